import { Link, useSearchParams } from "react-router";
import { paymentsApi } from "../api/payments";
import { Alert, Async, Money, PageTitle } from "../components/ui";
import { useApi, useCatchUp } from "../components/useApi";
import { useI18n } from "../i18n";
import { STATUS_TEXT } from "../payments/PayButton";

/** Where the gateway sends the payer back (?payment=<id>): the payment's status in the client zone's words. */
export function PaymentReturnPage() {
  const { t } = useI18n();
  const [params] = useSearchParams();
  const paymentId = params.get("payment") ?? "";
  const payment = useApi((signal) => paymentsApi.payment(paymentId, signal), [paymentId]);
  // The gateway's notification may arrive a moment after the payer: ask again while it is open.
  useCatchUp(payment, (view) => view.status.code === "in_progress" || view.status.code === "not_started", 40, 1500);
  return (
    <>
      <PageTitle>{t("payment.return_title")}</PageTitle>
      <Async state={payment}>
        {(view) => {
          const code = view.status.code === "paid" ? "accepted" : view.status.code;
          const tone = code === "accepted" ? "success" : code === "failed" || code === "unavailable" ? "error" : "info";
          return (
            <section className="card" aria-labelledby="payment-status">
              <h2 id="payment-status">{t("payment.status_heading")}</h2>
              <Alert tone={tone}>
                <span data-testid="payment-status" data-status={code}>
                  {t(STATUS_TEXT[code])}
                </span>
              </Alert>
              {view.amount ? (
                <p>
                  {t("payment.amount")}: <Money amount={view.amount} currency={view.currency ?? "PLN"} />
                </p>
              ) : null}
              <p>
                <Link className="button button--secondary" to="/faktury">
                  {t("payment.back_to_invoices")}
                </Link>
              </p>
            </section>
          );
        }}
      </Async>
    </>
  );
}
