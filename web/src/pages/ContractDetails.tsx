import { Link, useParams } from "react-router";
import { contractsApi, type ContractDetails } from "../api/contracts";
import { useSession } from "../auth/session";
import { Async, DateText, Money, PageTitle } from "../components/ui";
import { useApi } from "../components/useApi";
import { useI18n, type MessageKey } from "../i18n";
import { ContractStatusBadge, assetName, contractTypeKey } from "./Contracts";
import { InvoiceList } from "./Invoices";

const TERMINATION: Record<string, MessageKey> = {
  completed: "contracts.termination.completed",
  early_termination: "contracts.termination.early_termination",
  cancelled: "contracts.termination.cancelled",
  assigned: "contracts.termination.assigned",
};

function ContractFacts({ contract }: { contract: ContractDetails }) {
  const { t } = useI18n();
  return (
    <section className="card" aria-labelledby="contract-info">
      <h2 id="contract-info">{t("contract.info")}</h2>
      <dl className="facts">
        <dt>{t("contracts.number")}</dt>
        <dd>{contract.contract_number}</dd>
        <dt>{t("contracts.type")}</dt>
        <dd>{t(contractTypeKey(contract.contract_type))}</dd>
        <dt>{t("contracts.status")}</dt>
        <dd>
          <ContractStatusBadge status={contract.status} />
        </dd>
        <dt>{t("contract.start")}</dt>
        <dd>
          <DateText value={contract.start_date} />
        </dd>
        <dt>{t("contract.end")}</dt>
        <dd>
          <DateText value={contract.end_date} />
        </dd>
        <dt>{t("contracts.net_value")}</dt>
        <dd>
          <Money amount={contract.net_value} currency={contract.currency} />
        </dd>
        <dt>{t("contract.client")}</dt>
        <dd>{contract.client_name}</dd>
        <dt>{t("contract.nip")}</dt>
        <dd>{contract.client_nip}</dd>
        {contract.terminated_on ? (
          <>
            <dt>{t("contract.terminated_on")}</dt>
            <dd>
              <DateText value={contract.terminated_on} />
              {contract.termination_reason && TERMINATION[contract.termination_reason]
                ? ` (${t(TERMINATION[contract.termination_reason])})`
                : null}
            </dd>
          </>
        ) : null}
      </dl>
    </section>
  );
}

function AssetFacts({ contract }: { contract: ContractDetails }) {
  const { t } = useI18n();
  const asset = contract.asset;
  return (
    <section className="card" aria-labelledby="contract-asset">
      <h2 id="contract-asset">{t("contract.asset")}</h2>
      <dl className="facts">
        <dt>{t("asset.kind")}</dt>
        <dd>{asset.kind}</dd>
        <dt>{t("asset.make_model")}</dt>
        <dd>{assetName(asset)}</dd>
        {asset.year ? (
          <>
            <dt>{t("asset.year")}</dt>
            <dd>{asset.year}</dd>
          </>
        ) : null}
        {asset.registration_number ? (
          <>
            <dt>{t("asset.registration")}</dt>
            <dd>{asset.registration_number}</dd>
          </>
        ) : null}
        {asset.vin ? (
          <>
            <dt>{t("asset.vin")}</dt>
            <dd>{asset.vin}</dd>
          </>
        ) : null}
      </dl>
    </section>
  );
}

function ScheduleSummaryCard({ contract }: { contract: ContractDetails }) {
  const { t } = useI18n();
  const schedule = contract.schedule;
  return (
    <section className="card" aria-labelledby="contract-schedule">
      <h2 id="contract-schedule">{t("schedule.title")}</h2>
      {schedule ? (
        <dl className="facts">
          <dt>{t("schedule.instalments")}</dt>
          <dd>{schedule.instalments}</dd>
          <dt>{t("schedule.period")}</dt>
          <dd>
            <DateText value={schedule.first_due_date} /> – <DateText value={schedule.last_due_date} />
          </dd>
          <dt>{t("schedule.total_gross")}</dt>
          <dd>
            <Money amount={schedule.total_gross} currency={schedule.currency} />
          </dd>
        </dl>
      ) : (
        <p className="muted">{t("schedule.none")}</p>
      )}
      <p>
        <Link className="button button--secondary" to={`/umowy/${encodeURIComponent(contract.contract_id)}/harmonogram`}>
          {t("schedule.show")}
        </Link>
      </p>
    </section>
  );
}

export function ContractDetailsPage() {
  const { contractId = "" } = useParams();
  const { t } = useI18n();
  const { can } = useSession();
  const contract = useApi((signal) => contractsApi.get(contractId, signal), [contractId]);
  return (
    <>
      <p className="breadcrumb">
        <Link to="/umowy">{t("contracts.title")}</Link> ›
      </p>
      <Async state={contract}>
        {(details) => (
          <>
            <PageTitle>{t("contract.title", { number: details.contract_number })}</PageTitle>
            <div className="grid">
              <ContractFacts contract={details} />
              <AssetFacts contract={details} />
              <ScheduleSummaryCard contract={details} />
            </div>
            {can("invoices:read") ? (
              <section className="card" aria-labelledby="contract-invoices">
                <h2 id="contract-invoices">{t("contract.invoices")}</h2>
                <InvoiceList contractId={details.contract_id} compact />
              </section>
            ) : null}
          </>
        )}
      </Async>
    </>
  );
}
