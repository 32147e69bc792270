/**
 * Online payments (services/payments, /api/payments). Screens use the small PaymentsClient
 * interface; `httpPayments` speaks to the API, `unavailablePayments` stands in where there is none.
 */
import { ApiError, http } from "./http";

/** The five statuses of the client zone's payment gateway screen. */
export type PaymentStatus = "in_progress" | "accepted" | "failed" | "not_started" | "unavailable";

export const PAYMENT_STATUSES: readonly PaymentStatus[] = ["in_progress", "accepted", "failed", "not_started", "unavailable"];

export interface PaymentState {
  /** null: no payment was ever started for this invoice (or it is paid); nothing to say. */
  status: PaymentStatus | null;
  /** Whether the ZAPŁAĆ button is locked now. */
  locked: boolean;
  payment_id?: string | null;
}

export interface StartedPayment {
  payment_id: string;
  /** The gateway page to continue on. */
  redirect_url?: string | null;
  status: PaymentStatus;
}

export interface PaymentsClient {
  /** False where the portal has no payments API: one notice per page instead of one per row. */
  readonly enabled: boolean;
  availability(signal?: AbortSignal): Promise<boolean>;
  status(invoiceId: string, signal?: AbortSignal): Promise<PaymentState>;
  start(invoiceId: string): Promise<StartedPayment>;
}

export const unavailablePayments: PaymentsClient = {
  enabled: false,
  availability: async () => false,
  status: async () => ({ status: "unavailable", locked: true }),
  start: async () => {
    throw new ApiError("server", 503, { status: 503, code: "payments_unavailable" });
  },
};

/** The button is locked while a payment is under way or accepted, or payments are impossible now. */
export function payButtonLocked(status: PaymentStatus | null): boolean {
  return status === "in_progress" || status === "accepted" || status === "unavailable";
}

// ---- the payments API ----

interface StatusView {
  code: PaymentStatus | "paid";
  pay_locked: boolean;
  message: { pl: string; en: string };
}

interface InvoiceStatusView {
  invoice_id: string;
  status: StatusView;
  payment_id: string | null;
  can_pay: boolean;
}

export interface PaymentView {
  payment_id: string;
  status: StatusView;
  amount: string | null;
  currency: string | null;
  redirect_url: string | null;
  invoices: Array<{ invoice_id: string; number?: string }>;
  started_at: string | null;
}

const base = "/api/payments";

function toState(view: InvoiceStatusView): PaymentState {
  const code = view.status.code;
  if (code === "paid") return { status: null, locked: true, payment_id: view.payment_id };
  // "not_started" without a payment is simply "nothing started yet": no message, button free.
  if (code === "not_started" && !view.payment_id) return { status: null, locked: !view.can_pay };
  return { status: code, locked: view.status.pay_locked || !view.can_pay, payment_id: view.payment_id };
}

/** Asks for the status of every invoice on the screen in one call: ids asked within a tick are batched. */
function batcher() {
  let waiting: Array<{ id: string; resolve: (state: PaymentState) => void; reject: (error: unknown) => void }> = [];
  let timer: ReturnType<typeof setTimeout> | null = null;
  const flush = async () => {
    const batch = waiting;
    waiting = [];
    timer = null;
    const ids = [...new Set(batch.map((item) => item.id))];
    try {
      const answer = await http.get<{ available: boolean; invoices: InvoiceStatusView[] }>(`${base}/invoices/status`, {
        query: { ids: ids.join(",") },
      });
      const byId = new Map(answer.invoices.map((view) => [view.invoice_id, toState(view)]));
      for (const item of batch) {
        const state = byId.get(item.id);
        if (state) item.resolve(state);
        else item.reject(new ApiError("not_found", 404, { status: 404, code: "invoice_not_found" }));
      }
    } catch (error) {
      for (const item of batch) item.reject(error);
    }
  };
  return (id: string) =>
    new Promise<PaymentState>((resolve, reject) => {
      waiting.push({ id, resolve, reject });
      if (!timer) timer = setTimeout(() => void flush(), 10);
    });
}

const statusOf = batcher();

function newKey(): string {
  if (typeof crypto !== "undefined" && "randomUUID" in crypto) return crypto.randomUUID();
  return `${Date.now().toString(16)}-${Math.random().toString(16).slice(2)}-pay`;
}

export const httpPayments: PaymentsClient = {
  enabled: true,
  availability: async (signal) =>
    (await http.get<{ available: boolean }>(`${base}/availability`, { signal })).available,
  status: (invoiceId) => statusOf(invoiceId),
  start: async (invoiceId) => {
    try {
      const view = await http.post<PaymentView>(
        `${base}/payments`,
        { invoice_ids: [invoiceId] },
        // A new key per attempt: a retry after a failure is a new payment; a double click is not.
        { headers: { "Idempotency-Key": newKey() } },
      );
      const code = view.status.code === "paid" ? "accepted" : view.status.code;
      return { payment_id: view.payment_id, redirect_url: view.redirect_url, status: code };
    } catch (error) {
      // 409: a payment already holds the invoice; 503: the gateway is down. Both carry the status.
      const status = (error as ApiError).problem as { payment_status?: StatusView } | null;
      const code = status?.payment_status?.code;
      if (error instanceof ApiError && code && code !== "paid") {
        return { payment_id: "", redirect_url: null, status: code };
      }
      throw error;
    }
  },
};

export const paymentsApi = {
  payment: (paymentId: string, signal?: AbortSignal) =>
    http.get<PaymentView>(`${base}/payments/${encodeURIComponent(paymentId)}`, { signal }),
};
