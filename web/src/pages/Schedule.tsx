import { Fragment, useState } from "react";
import { Link, useParams } from "react-router";
import { billingApi, type InstalmentRow } from "../api/billing";
import { contractsApi } from "../api/contracts";
import { useSession } from "../auth/session";
import { DownloadButton } from "../components/DownloadButton";
import { Async, DateText, Empty, Money, PageTitle, StatusBadge } from "../components/ui";
import { useApi } from "../components/useApi";
import { formatDateTime, sumMoney } from "../format";
import { useI18n, type MessageKey } from "../i18n";
import { SettlementDetails } from "./Invoices";

const STATE: Record<InstalmentRow["state"], [MessageKey, "ok" | "warn" | "bad" | "neutral"]> = {
  paid: ["invoices.status.paid", "ok"],
  open: ["invoices.status.open", "warn"],
  overdue: ["invoices.status.overdue", "bad"],
  not_invoiced: ["schedule.not_invoiced", "neutral"],
};

export function SchedulePage() {
  const { contractId = "" } = useParams();
  const { t } = useI18n();
  const { can } = useSession();
  const mayReadInvoices = can("invoices:read");
  const [open, setOpen] = useState<string | null>(null);
  const agreed = useApi((signal) => contractsApi.schedule(contractId, signal), [contractId]);
  const schedule = useApi((signal) => billingApi.scheduleStatus(contractId, signal), [contractId]);
  const number = schedule.data?.contract_number ?? agreed.data?.contract_number ?? "";
  return (
    <>
      <p className="breadcrumb">
        <Link to="/umowy">{t("contracts.title")}</Link> ›{" "}
        <Link to={`/umowy/${encodeURIComponent(contractId)}`}>{t("contract.details")}</Link> ›
      </p>
      <PageTitle
        actions={
          number ? (
            <DownloadButton
              className="button button--secondary"
              label={t("schedule.download")}
              fetchFile={() => billingApi.schedulePdf(contractId, number)}
            />
          ) : null
        }
      >
        {t("schedule.page_title", { number })}
      </PageTitle>
      {agreed.data && agreed.data.revision > 0 ? (
        <p className="muted">
          {agreed.data.changed_at
            ? t("schedule.changed", { date: formatDateTime(agreed.data.changed_at), revision: agreed.data.revision })
            : t("schedule.agreed", { date: formatDateTime(agreed.data.agreed_at) })}
          {agreed.data.change_reason ? ` — ${agreed.data.change_reason}` : null}
        </p>
      ) : null}
      <Async state={schedule}>
        {(data) =>
          data.instalments.length === 0 ? (
            <Empty>{t("schedule.none")}</Empty>
          ) : (
            <div className="table-wrap">
              <table className="table table--cards">
                <caption className="visually-hidden">{t("schedule.title")}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t("schedule.number")}</th>
                    <th scope="col">{t("schedule.due_date")}</th>
                    <th scope="col" className="num">
                      {t("schedule.capital")}
                    </th>
                    <th scope="col" className="num">
                      {t("schedule.interest")}
                    </th>
                    <th scope="col" className="num">
                      {t("schedule.net")}
                    </th>
                    <th scope="col" className="num">
                      {t("schedule.vat")}
                    </th>
                    <th scope="col" className="num">
                      {t("schedule.gross")}
                    </th>
                    <th scope="col">{t("invoices.status")}</th>
                    <th scope="col">{t("schedule.invoice")}</th>
                  </tr>
                </thead>
                <tbody>
                  {data.instalments.map((row) => {
                    const [label, tone] = STATE[row.state];
                    const invoice = row.invoice;
                    const expanded = invoice !== null && open === invoice.invoice_id;
                    return (
                      <Fragment key={row.number}>
                        <tr className={row.state === "overdue" ? "is-overdue" : undefined}>
                          <th scope="row" data-label={t("schedule.number")}>
                            {row.number}
                          </th>
                          <td data-label={t("schedule.due_date")}>
                            <DateText value={row.due_date} />
                          </td>
                          <td className="num" data-label={t("schedule.capital")}>
                            <Money amount={row.capital} currency={data.currency} />
                          </td>
                          <td className="num" data-label={t("schedule.interest")}>
                            <Money amount={row.interest} currency={data.currency} />
                          </td>
                          <td className="num" data-label={t("schedule.net")}>
                            <Money amount={row.net} currency={data.currency} />
                          </td>
                          <td className="num" data-label={t("schedule.vat")}>
                            <Money amount={row.vat} currency={data.currency} />
                          </td>
                          <td className="num" data-label={t("schedule.gross")}>
                            <Money amount={row.gross} currency={data.currency} />
                          </td>
                          <td data-label={t("invoices.status")}>
                            <StatusBadge tone={tone}>{t(label)}</StatusBadge>
                          </td>
                          <td data-label={t("schedule.invoice")} className="actions">
                            {invoice && mayReadInvoices ? (
                              <div className="actions__row">
                                <span>{invoice.number}</span>
                                <DownloadButton
                                  label={t("common.download")}
                                  accessibleLabel={t("common.download_named", { name: invoice.number })}
                                  fetchFile={() => billingApi.invoicePdf(invoice)}
                                />
                                <button
                                  type="button"
                                  className="button button--link"
                                  aria-expanded={expanded}
                                  aria-controls={`schedule-settlement-${row.number}`}
                                  onClick={() => setOpen(expanded ? null : invoice.invoice_id)}
                                >
                                  {expanded ? t("common.hide_details") : t("invoices.settlement")}
                                </button>
                              </div>
                            ) : (
                              (invoice?.number ?? "—")
                            )}
                          </td>
                        </tr>
                        {expanded && invoice ? (
                          <tr className="details-row">
                            <td colSpan={9} id={`schedule-settlement-${row.number}`}>
                              <SettlementDetails invoiceId={invoice.invoice_id} />
                            </td>
                          </tr>
                        ) : null}
                      </Fragment>
                    );
                  })}
                </tbody>
                <tfoot>
                  <tr>
                    <th scope="row" colSpan={2}>
                      {t("schedule.totals")}
                    </th>
                    <td className="num" data-label={t("schedule.capital")}>
                      <Money amount={sumMoney(data.instalments.map((row) => row.capital))} currency={data.currency} />
                    </td>
                    <td className="num" data-label={t("schedule.interest")}>
                      <Money amount={sumMoney(data.instalments.map((row) => row.interest))} currency={data.currency} />
                    </td>
                    <td className="num" data-label={t("schedule.net")}>
                      <Money amount={data.totals.net} currency={data.currency} />
                    </td>
                    <td className="num" data-label={t("schedule.vat")}>
                      <Money amount={data.totals.vat} currency={data.currency} />
                    </td>
                    <td className="num" data-label={t("schedule.gross")}>
                      <Money amount={data.totals.gross} currency={data.currency} />
                    </td>
                    <td colSpan={2} data-label={t("invoices.outstanding")}>
                      <span className="muted small">{t("invoices.outstanding")}: </span>
                      <Money amount={data.totals.outstanding} currency={data.currency} />
                    </td>
                  </tr>
                </tfoot>
              </table>
            </div>
          )
        }
      </Async>
    </>
  );
}
