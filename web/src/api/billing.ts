/** services/billing, client zone: dashboard, invoices and settlements, interest notes, documents, PDFs. */
import { download, http, type Query } from "./http";

export type InvoiceStatus = "open" | "partially_paid" | "paid" | "overdue" | "credit";
export type InvoiceKind = "instalment" | "initial_fee" | "fee" | "insurance" | "other" | "correction";

export interface InvoiceItem {
  invoice_id: string;
  number: string;
  contract_id: string | null;
  contract_number: string | null;
  instalment_number: number | null;
  kind: InvoiceKind;
  issue_date: string;
  due_date: string;
  net_total: string;
  vat_total: string;
  gross_total: string;
  paid: string;
  outstanding: string;
  currency: string;
  ksef_number: string | null;
  paid_on: string | null;
  status: InvoiceStatus;
  overdue: boolean;
  links: { self: string; pdf: string };
}

export interface InvoiceLine {
  description: string;
  net: string;
  vat_rate: string;
  vat: string;
  gross: string;
}

export interface Settlement {
  payment_id: string | null;
  correction_invoice_id: string | null;
  amount: string;
  settled_on: string;
  outstanding_after: string;
  payment_received_on: string | null;
  payment_title: string | null;
  payment_amount: string | null;
  correction_number: string | null;
}

export interface InvoiceDetails extends InvoiceItem {
  lines: InvoiceLine[];
  settlements: Settlement[];
  corrects_invoice_id: string | null;
  corrects_invoice_number: string | null;
}

export interface ListPage<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface InstalmentRow {
  contract_id: string;
  contract_number: string | null;
  number: number;
  due_date: string;
  net: string;
  vat: string;
  gross: string;
  capital: string;
  interest: string;
  state: "paid" | "open" | "overdue" | "not_invoiced";
  invoiced: boolean;
  paid: boolean;
  invoice: {
    invoice_id: string;
    number: string;
    due_date: string;
    gross_total: string;
    paid: string;
    outstanding: string;
    status: InvoiceStatus;
  } | null;
}

export interface ScheduleStatus {
  contract_id: string;
  contract_number: string | null;
  client_name: string | null;
  status: string | null;
  today: string;
  currency: string;
  instalments: InstalmentRow[];
  totals: { net: string; vat: string; gross: string; paid: string; outstanding: string };
}

export type DocumentKind =
  | "invoice"
  | "interest_note"
  | "schedule"
  | "settlement_statement"
  | "contract"
  | "annex"
  | "letter"
  | "other";

export interface DocumentItem {
  document_id: string;
  title: string;
  kind: DocumentKind;
  contract_id: string | null;
  invoice_id: string | null;
  published_on: string;
  size: number;
  download: string;
}

export interface InterestNote {
  note_id: string;
  number: string;
  client_id: string;
  invoice_id: string;
  invoice_number: string | null;
  contract_id: string | null;
  days_late: number;
  amount: string;
  currency: string;
  issue_date: string;
  due_date: string;
}

export interface RepaymentAccount {
  account_number: string;
  bank_name: string;
  purpose: string;
}

export interface Dashboard {
  client_id: string;
  today: string;
  overdue: { count: number; total: string; oldest_due_date: string | null };
  /** null without the contracts:read scope. */
  upcoming: InstalmentRow[] | null;
  overpayment: string;
  /** null without the documents:read scope. */
  latest_documents: DocumentItem[] | null;
  repayment_accounts: RepaymentAccount[];
  switchable_clients: Array<{ client_id: string; client_name: string | null; current: boolean }>;
}

export interface InvoiceQuery extends Query {
  status?: InvoiceStatus;
  contract_id?: string;
  sort?: "issue_date" | "-issue_date" | "due_date" | "-due_date" | "number" | "-number";
  limit?: number;
  offset?: number;
}

const base = "/api/billing";
const id = encodeURIComponent;

export const billingApi = {
  dashboard: (signal?: AbortSignal) => http.get<Dashboard>(`${base}/dashboard`, { signal }),
  invoices: (query: InvoiceQuery = {}, signal?: AbortSignal) =>
    http.get<ListPage<InvoiceItem>>(`${base}/invoices`, { query, signal }),
  invoice: (invoiceId: string, signal?: AbortSignal) =>
    http.get<InvoiceDetails>(`${base}/invoices/${id(invoiceId)}`, { signal }),
  invoicePdf: (invoice: Pick<InvoiceItem, "invoice_id" | "number">) =>
    download(`${base}/invoices/${id(invoice.invoice_id)}/pdf`, `faktura-${invoice.number}.pdf`),
  scheduleStatus: (contractId: string, signal?: AbortSignal) =>
    http.get<ScheduleStatus>(`${base}/contracts/${id(contractId)}/schedule-status`, { signal }),
  schedulePdf: (contractId: string, number: string) =>
    download(`${base}/contracts/${id(contractId)}/schedule.pdf`, `harmonogram-${number}.pdf`),
  statementPdf: () => download(`${base}/settlement-statement.pdf`, "zestawienie-rozliczen.pdf"),
  interestNotes: (query: { contract_id?: string; limit?: number; offset?: number } = {}, signal?: AbortSignal) =>
    http.get<ListPage<InterestNote>>(`${base}/interest-notes`, { query, signal }),
  documents: (query: { kind?: DocumentKind; contract_id?: string; limit?: number; offset?: number } = {}, signal?: AbortSignal) =>
    http.get<ListPage<DocumentItem>>(`${base}/documents`, { query, signal }),
  documentFile: (document: Pick<DocumentItem, "document_id" | "title">) =>
    download(`${base}/documents/${id(document.document_id)}/download`, `${document.title}.pdf`),
};
