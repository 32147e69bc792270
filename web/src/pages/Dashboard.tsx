import { Link } from "react-router";
import { billingApi, type Dashboard, type DocumentItem } from "../api/billing";
import { clientName } from "../api/identity";
import { useSession } from "../auth/session";
import { DownloadButton } from "../components/DownloadButton";
import { Async, DateText, Money, PageTitle } from "../components/ui";
import { useApi } from "../components/useApi";
import { formatAccount, formatDate, isPositive, sumMoney } from "../format";
import { useI18n } from "../i18n";

function Overdue({ data }: { data: Dashboard }) {
  const { t } = useI18n();
  const overdue = data.overdue;
  const any = overdue.count > 0;
  return (
    <section className={`card ${any ? "card--alert" : "card--ok"}`} aria-labelledby="dash-overdue" data-testid="overdue">
      <h2 id="dash-overdue">{t("dashboard.overdue")}</h2>
      {any ? (
        <>
          <p className="figure figure--bad" data-testid="overdue-total">
            <Money amount={overdue.total} />
          </p>
          <p>{t("dashboard.overdue_count", { count: overdue.count })}</p>
          {overdue.oldest_due_date ? (
            <p className="muted small">
              {t("dashboard.oldest_due", { date: formatDate(overdue.oldest_due_date) })}
            </p>
          ) : null}
          <Link to="/faktury?status=overdue">{t("dashboard.see_overdue")}</Link>
        </>
      ) : (
        <p>{t("dashboard.overdue_none")}</p>
      )}
    </section>
  );
}

function Upcoming({ data }: { data: Dashboard }) {
  const { t } = useI18n();
  const rows = data.upcoming ?? [];
  const unpaid = rows.filter((row) => !row.paid);
  return (
    <section className="card card--info" aria-labelledby="dash-upcoming" data-testid="upcoming">
      <h2 id="dash-upcoming">{t("dashboard.upcoming")}</h2>
      {unpaid.length === 0 ? (
        <p>{t("dashboard.upcoming_none")}</p>
      ) : (
        <>
          <p className="figure" data-testid="upcoming-total">
            <Money amount={sumMoney(unpaid.map((row) => row.invoice?.outstanding ?? row.gross))} />
          </p>
          <ul className="list-plain">
            {unpaid.slice(0, 5).map((row) => (
              <li key={`${row.contract_id}-${row.number}`} className="row">
                <span>
                  <DateText value={row.due_date} />
                  <span className="muted small">
                    {" "}
                    · {t("dashboard.instalment", { number: row.number, contract: row.contract_number ?? "" })}
                  </span>
                </span>
                <Money amount={row.invoice?.outstanding ?? row.gross} currency={undefined} />
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

function Overpayment({ data }: { data: Dashboard }) {
  const { t } = useI18n();
  return (
    <section className="card" aria-labelledby="dash-overpayment" data-testid="overpayment">
      <h2 id="dash-overpayment">{t("dashboard.overpayment")}</h2>
      {isPositive(data.overpayment) ? (
        <>
          <p className="figure figure--ok" data-testid="overpayment-total">
            <Money amount={data.overpayment} />
          </p>
          <p className="muted small">{t("dashboard.overpayment_hint")}</p>
        </>
      ) : (
        <p>{t("dashboard.overpayment_none")}</p>
      )}
    </section>
  );
}

export function DocumentRow({ document }: { document: DocumentItem }) {
  const { t } = useI18n();
  return (
    <li className="row">
      <span>
        <strong>{document.title}</strong>
        <br />
        <span className="muted small">
          <DateText value={document.published_on} />
        </span>
      </span>
      <DownloadButton
        label={t("common.download")}
        accessibleLabel={t("common.download_named", { name: document.title })}
        fetchFile={() => billingApi.documentFile(document)}
      />
    </li>
  );
}

function LatestDocuments({ data }: { data: Dashboard }) {
  const { t } = useI18n();
  const { can } = useSession();
  if (data.latest_documents === null) return null;
  return (
    <section className="card" aria-labelledby="dash-documents" data-testid="latest-documents">
      <h2 id="dash-documents">{t("dashboard.documents")}</h2>
      {data.latest_documents.length === 0 ? (
        <p>{t("dashboard.documents_none")}</p>
      ) : (
        <ul className="list-plain">
          {data.latest_documents.map((document) => (
            <DocumentRow key={document.document_id} document={document} />
          ))}
        </ul>
      )}
      {can("invoices:read") ? (
        <p className="card__footer">
          <Link to="/faktury">{t("dashboard.to_invoices")}</Link>
        </p>
      ) : null}
    </section>
  );
}

function RepaymentAccounts({ data }: { data: Dashboard }) {
  const { t } = useI18n();
  return (
    <section className="card" aria-labelledby="dash-accounts" data-testid="accounts">
      <h2 id="dash-accounts">{t("dashboard.accounts")}</h2>
      {data.repayment_accounts.length === 0 ? (
        <p>{t("dashboard.accounts_none")}</p>
      ) : (
        <ul className="list-plain">
          {data.repayment_accounts.map((account) => (
            <li key={account.account_number}>
              <strong className="account-number">{formatAccount(account.account_number)}</strong>
              <br />
              <span className="muted small">
                {account.bank_name} · {t("dashboard.account_purpose")}: {account.purpose}
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function DashboardPage() {
  const { t } = useI18n();
  const { me, can } = useSession();
  const mayRead = can("invoices:read");
  const dashboard = useApi(
    (signal) => (mayRead ? billingApi.dashboard(signal) : Promise.resolve(null)),
    [mayRead, me?.client.client_id],
  );
  return (
    <>
      <PageTitle>{t("dashboard.greeting", { name: me?.first_name ?? "" })}</PageTitle>
      <p className="muted">
        {t("context.client")}: <strong data-testid="active-client">{me ? clientName(me) : null}</strong>
      </p>
      {mayRead ? (
        <Async state={dashboard}>
          {(data) =>
            data ? (
              <>
                <div className="grid">
                  <Overdue data={data} />
                  {data.upcoming !== null ? <Upcoming data={data} /> : null}
                  <Overpayment data={data} />
                </div>
                <div className="grid">
                  <LatestDocuments data={data} />
                  <RepaymentAccounts data={data} />
                </div>
              </>
            ) : null
          }
        </Async>
      ) : (
        <p className="alert alert--info">{t("dashboard.limited")}</p>
      )}
    </>
  );
}
