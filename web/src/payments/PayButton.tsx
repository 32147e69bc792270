import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { unavailablePayments, type PaymentsClient, type PaymentStatus } from "../api/payments";
import { useApi } from "../components/useApi";
import { useI18n, type MessageKey } from "../i18n";

const PaymentsContext = createContext<PaymentsClient>(unavailablePayments);

export function PaymentsProvider({ client, children }: { client: PaymentsClient; children: ReactNode }) {
  return <PaymentsContext.Provider value={client}>{children}</PaymentsContext.Provider>;
}

export function usePayments(): PaymentsClient {
  return useContext(PaymentsContext);
}

export const STATUS_TEXT: Record<PaymentStatus, MessageKey> = {
  in_progress: "payment.status.in_progress",
  accepted: "payment.status.accepted",
  failed: "payment.status.failed",
  not_started: "payment.status.not_started",
  unavailable: "payment.status.unavailable",
};

const POLL_MS = 3000;
const UNAVAILABLE_ID = "payments-unavailable";

/** Said once on a page with "Zapłać" buttons while payments cannot be made at all. */
export function PaymentsNotice() {
  const client = usePayments();
  const { t } = useI18n();
  const available = useApi((signal) => client.availability(signal).catch(() => false), [client]);
  if (available.data !== false) return null;
  return (
    <p id={UNAVAILABLE_ID} className="alert alert--warning" role="status">
      {t("payment.status.unavailable")}
    </p>
  );
}

export interface Payment {
  status: PaymentStatus | null;
  /** The status text to show (null: nothing to say). */
  message: string | null;
  messageId: string;
  disabled: boolean;
  enabled: boolean;
  pay: () => void;
}

/**
 * The payment state of one invoice: its status in the client zone's words, whether ZAPŁAĆ is
 * locked (while a payment is in progress, accepted, or payments are unavailable; free again after
 * a failure), polled while the gateway works.
 */
export function usePayment(invoiceId: string, payable: boolean): Payment {
  const client = usePayments();
  const { t } = useI18n();
  const [status, setStatus] = useState<PaymentStatus | null>(null);
  const [locked, setLocked] = useState(false);
  const [starting, setStarting] = useState(false);
  const [attempted, setAttempted] = useState(false);

  const refresh = useCallback(
    (signal?: AbortSignal) =>
      client
        .status(invoiceId, signal)
        .then((state) => {
          if (signal?.aborted) return;
          setStatus(state.status);
          setLocked(state.locked);
        })
        .catch(() => {
          if (signal?.aborted) return;
          setStatus("unavailable");
          setLocked(true);
        }),
    [client, invoiceId],
  );

  useEffect(() => {
    const controller = new AbortController();
    void refresh(controller.signal);
    return () => controller.abort();
  }, [refresh]);

  // While the gateway works, ask again now and then: the status changes without the page.
  useEffect(() => {
    if (status !== "in_progress" && status !== "not_started") return undefined;
    const timer = window.setInterval(() => void refresh(), POLL_MS);
    return () => window.clearInterval(timer);
  }, [status, refresh]);

  const pay = () => {
    setStarting(true);
    setAttempted(true);
    client
      .start(invoiceId)
      .then((started) => {
        setStatus(started.status);
        setLocked(started.status !== "failed");
        if (started.redirect_url) window.location.assign(started.redirect_url);
      })
      .catch(() => {
        setStatus("unavailable");
        setLocked(true);
      })
      .finally(() => setStarting(false));
  };
  // "Unavailable" for every row is said once for the page (PaymentsNotice), unless this row tried.
  const message = status && (status !== "unavailable" || attempted) ? t(STATUS_TEXT[status]) : null;
  return {
    status,
    message,
    messageId: `pay-status-${invoiceId}`,
    disabled: !client.enabled || !payable || starting || locked,
    enabled: client.enabled,
    pay,
  };
}

/** The ZAPŁAĆ button of a payment (usePayment); its status text is shown by PayStatus. */
export function PayAction({ payment, payable, label }: { payment: Payment; payable: boolean; label?: string }) {
  const { t } = useI18n();
  if (!payable && !payment.status) return null;
  if (!payment.enabled && !payable) return null;
  return (
    <button
      type="button"
      className="button button--pay"
      disabled={payment.disabled}
      aria-describedby={payment.enabled ? (payment.message ? payment.messageId : undefined) : UNAVAILABLE_ID}
      onClick={payment.pay}
    >
      {label ?? t("payment.pay")}
    </button>
  );
}

/** The status text of a payment, announced politely when it changes. */
export function PayStatus({ payment }: { payment: Payment }) {
  return (
    <p
      id={payment.messageId}
      className={`pay__status pay__status--${payment.status ?? "none"}`}
      role="status"
      aria-live="polite"
    >
      {payment.message ?? ""}
    </p>
  );
}

/** "Zapłać" with its status below it, for one invoice. */
export function PayButton({ invoiceId, payable, label }: { invoiceId: string; payable: boolean; label?: string }) {
  const payment = usePayment(invoiceId, payable);
  return (
    <div className="pay">
      <PayAction payment={payment} payable={payable} label={label} />
      {payment.enabled ? <PayStatus payment={payment} /> : null}
    </div>
  );
}
