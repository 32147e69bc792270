import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { billingApi, type InvoiceItem, type InvoiceStatus } from "../api/billing";
import { useSession } from "../auth/session";
import { DownloadButton } from "../components/DownloadButton";
import { Async, DateText, Empty, Money, PageTitle, StatusBadge } from "../components/ui";
import { useApi } from "../components/useApi";
import { isPositive } from "../format";
import { useI18n, type MessageKey } from "../i18n";
import { PayAction, PaymentsNotice, PayStatus, usePayment } from "../payments/PayButton";
import { Pager } from "./Contracts";

const PAGE_SIZE = 20;

const STATUS: Record<InvoiceStatus, [MessageKey, "ok" | "warn" | "bad" | "neutral"]> = {
  open: ["invoices.status.open", "warn"],
  overdue: ["invoices.status.overdue", "bad"],
  partially_paid: ["invoices.status.partially_paid", "warn"],
  paid: ["invoices.status.paid", "ok"],
  credit: ["invoices.status.credit", "neutral"],
};

const KIND: Record<string, MessageKey> = {
  instalment: "invoices.kind.instalment",
  initial_fee: "invoices.kind.initial_fee",
  correction: "invoices.kind.correction",
};

export function InvoiceStatusBadge({ status }: { status: InvoiceStatus }) {
  const { t } = useI18n();
  const [label, tone] = STATUS[status] ?? ["invoices.status.open", "neutral"];
  return <StatusBadge tone={tone}>{t(label)}</StatusBadge>;
}

/** "Szczegóły rozliczenia": which payments (or corrections) settled the invoice, when, how much. */
export function SettlementDetails({ invoiceId }: { invoiceId: string }) {
  const { t } = useI18n();
  const details = useApi((signal) => billingApi.invoice(invoiceId, signal), [invoiceId]);
  return (
    <div className="settlement">
      <Async state={details}>
        {(invoice) => (
          <>
            <h3>{t("invoices.settlement")}</h3>
            <dl className="facts">
              <dt>{t("invoices.gross")}</dt>
              <dd>
                <Money amount={invoice.gross_total} currency={invoice.currency} />
              </dd>
              <dt>{t("invoices.paid")}</dt>
              <dd>
                <Money amount={invoice.paid} currency={invoice.currency} />
              </dd>
              <dt>{t("invoices.outstanding")}</dt>
              <dd>
                <Money amount={invoice.outstanding} currency={invoice.currency} />
              </dd>
              {invoice.ksef_number ? (
                <>
                  <dt>{t("invoices.ksef")}</dt>
                  <dd>{invoice.ksef_number}</dd>
                </>
              ) : null}
            </dl>
            {invoice.settlements.length === 0 ? (
              <p className="muted">{t("invoices.settlement_none")}</p>
            ) : (
              <table className="table table--cards">
                <caption className="visually-hidden">{t("invoices.settlement")}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t("invoices.settled_on")}</th>
                    <th scope="col">{t("invoices.settled_by")}</th>
                    <th scope="col" className="num">
                      {t("invoices.settled_amount")}
                    </th>
                    <th scope="col" className="num">
                      {t("invoices.outstanding_after")}
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {invoice.settlements.map((settlement, index) => (
                    <tr key={index}>
                      <td data-label={t("invoices.settled_on")}>
                        <DateText value={settlement.settled_on} />
                      </td>
                      <td data-label={t("invoices.settled_by")}>
                        {settlement.correction_number
                          ? `${t("invoices.settled_by_correction")} ${settlement.correction_number}`
                          : `${t("invoices.settled_by_payment")}${settlement.payment_title ? ` — ${settlement.payment_title}` : ""}`}
                      </td>
                      <td className="num" data-label={t("invoices.settled_amount")}>
                        <Money amount={settlement.amount} currency={invoice.currency} />
                      </td>
                      <td className="num" data-label={t("invoices.outstanding_after")}>
                        <Money amount={settlement.outstanding_after} currency={invoice.currency} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </>
        )}
      </Async>
    </div>
  );
}

function InvoiceRow({
  invoice,
  compact,
  columns,
  expanded,
  onToggle,
}: {
  invoice: InvoiceItem;
  compact?: boolean;
  columns: number;
  expanded: boolean;
  onToggle: () => void;
}) {
  const { t } = useI18n();
  const { can } = useSession();
  const mayPay = can("payments:create");
  const detailsId = `settlement-${invoice.invoice_id}`;
  const payable = mayPay && invoice.status !== "credit" && isPositive(invoice.outstanding);
  const payment = usePayment(invoice.invoice_id, payable);
  return (
    <>
      <tr className={invoice.overdue ? "is-overdue" : undefined} data-invoice={invoice.number}>
        <th scope="row" data-label={t("invoices.number")}>
          <span>
            {invoice.number}
            {KIND[invoice.kind] ? (
              <span className="muted small">
                <br />
                {t(KIND[invoice.kind])}
                {invoice.instalment_number ? ` ${invoice.instalment_number}` : ""}
              </span>
            ) : null}
          </span>
        </th>
        {compact ? null : (
          <td data-label={t("invoices.contract")}>
            {invoice.contract_id && invoice.contract_number ? (
              can("contracts:read") ? (
                <Link to={`/umowy/${encodeURIComponent(invoice.contract_id)}`}>{invoice.contract_number}</Link>
              ) : (
                invoice.contract_number
              )
            ) : (
              "—"
            )}
          </td>
        )}
        <td data-label={t("invoices.issue_date")}>
          <DateText value={invoice.issue_date} />
        </td>
        <td data-label={t("invoices.due_date")}>
          <DateText value={invoice.due_date} />
        </td>
        <td className="num" data-label={t("invoices.gross")}>
          <Money amount={invoice.gross_total} currency={invoice.currency} />
        </td>
        <td className="num" data-label={t("invoices.outstanding")}>
          <Money amount={invoice.outstanding} currency={invoice.currency} />
        </td>
        <td data-label={t("invoices.status")}>
          <InvoiceStatusBadge status={invoice.status} />
        </td>
        <td className="actions">
          <div className="actions__row">
            <DownloadButton
              label={t("common.download")}
              accessibleLabel={t("common.download_named", { name: invoice.number })}
              fetchFile={() => billingApi.invoicePdf(invoice)}
            />
            <button
              type="button"
              className="button button--link"
              aria-expanded={expanded}
              aria-controls={detailsId}
              aria-label={`${expanded ? t("common.hide_details") : t("invoices.settlement")}: ${invoice.number}`}
              onClick={onToggle}
            >
              {expanded ? t("common.hide_details") : t("invoices.settlement")}
            </button>
            {mayPay ? <PayAction payment={payment} payable={payable} /> : null}
          </div>
        </td>
      </tr>
      {mayPay && payment.enabled ? (
        <tr
          className={`pay-row${payment.message ? "" : " pay-row--empty"}${invoice.overdue ? " is-overdue" : ""}`}
          data-invoice-status={invoice.number}
        >
          <td colSpan={columns}>
            <PayStatus payment={payment} />
          </td>
        </tr>
      ) : null}
      {expanded ? (
        <tr className="details-row">
          <td colSpan={columns} id={detailsId}>
            <SettlementDetails invoiceId={invoice.invoice_id} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

function InvoiceRows({ invoices, compact }: { invoices: InvoiceItem[]; compact?: boolean }) {
  const { t } = useI18n();
  const [open, setOpen] = useState<string | null>(null);
  const columns = compact ? 7 : 8;
  return (
    <div className="table-wrap">
      <table className="table table--cards">
        <caption className="visually-hidden">{t("invoices.title")}</caption>
        <thead>
          <tr>
            <th scope="col">{t("invoices.number")}</th>
            {compact ? null : <th scope="col">{t("invoices.contract")}</th>}
            <th scope="col">{t("invoices.issue_date")}</th>
            <th scope="col">{t("invoices.due_date")}</th>
            <th scope="col" className="num">
              {t("invoices.gross")}
            </th>
            <th scope="col" className="num">
              {t("invoices.outstanding")}
            </th>
            <th scope="col">{t("invoices.status")}</th>
            <th scope="col">
              <span className="visually-hidden">{t("invoices.actions")}</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {invoices.map((invoice) => (
            <InvoiceRow
              key={invoice.invoice_id}
              invoice={invoice}
              compact={compact}
              columns={columns}
              expanded={open === invoice.invoice_id}
              onToggle={() => setOpen(open === invoice.invoice_id ? null : invoice.invoice_id)}
            />
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The invoices of the client, or of one contract (on the contract's pages). */
export function InvoiceList({
  contractId,
  compact,
  status,
}: {
  contractId?: string;
  compact?: boolean;
  status?: InvoiceStatus;
}) {
  const { t } = useI18n();
  const [offset, setOffset] = useState(0);
  const invoices = useApi(
    (signal) => billingApi.invoices({ contract_id: contractId, status, limit: PAGE_SIZE, offset }, signal),
    [contractId, status, offset],
  );
  return (
    <Async state={invoices}>
      {(page) =>
        page.items.length === 0 ? (
          <Empty>{t("invoices.empty")}</Empty>
        ) : (
          <>
            <InvoiceRows invoices={page.items} compact={compact} />
            <Pager total={page.total} offset={offset} size={PAGE_SIZE} onPage={setOffset} />
          </>
        )
      }
    </Async>
  );
}

export function InvoicesPage() {
  const { t } = useI18n();
  const { can } = useSession();
  const [params, setParams] = useSearchParams();
  const status = (params.get("status") as InvoiceStatus | null) ?? undefined;
  return (
    <>
      <PageTitle
        actions={
          <DownloadButton
            className="button button--secondary"
            label={t("invoices.download_settlements")}
            fetchFile={() => billingApi.statementPdf()}
          />
        }
      >
        {t("invoices.title")}
      </PageTitle>
      <div className="filters">
        <div className="field field--inline">
          <label htmlFor="invoice-status">{t("invoices.filter_status")}</label>
          <select
            id="invoice-status"
            value={status ?? ""}
            onChange={(event) => setParams(event.target.value ? { status: event.target.value } : {})}
          >
            <option value="">{t("common.all")}</option>
            <option value="overdue">{t("invoices.status.overdue")}</option>
            <option value="open">{t("invoices.status.open")}</option>
            <option value="partially_paid">{t("invoices.status.partially_paid")}</option>
            <option value="paid">{t("invoices.status.paid")}</option>
            <option value="credit">{t("invoices.status.credit")}</option>
          </select>
        </div>
      </div>
      {can("payments:create") ? <PaymentsNotice /> : null}
      <InvoiceList status={status} />
    </>
  );
}
