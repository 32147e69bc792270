/** services/profile: Mój profil (company and person contact data), e-invoice, requests (wnioski). */
import { download, http, request, type Query } from "./http";

export interface Address {
  street: string;
  building: string;
  apartment?: string | null;
  postal_code: string;
  city: string;
  country: string;
}

export interface CompanyContact {
  correspondence_address: Address | null;
  phone: string | null;
  email: string | null;
}

export interface PersonContact {
  position: string | null;
  department: string | null;
  work_phone: string | null;
  work_email: string | null;
}

export interface Bilingual {
  pl: string;
  en: string;
}

export interface EInvoice {
  client_id: string;
  consent: boolean;
  email: string | null;
  pending: { purpose: "consent" | "email_change"; email: string; expires_at: string; requested_at?: string } | null;
  consent_given?: { by: string | null; at: string } | null;
  history: Array<{ event: string; email?: string; by: string | null; at: string }>;
}

export interface Profile {
  client: {
    client_id: string;
    name: string | null;
    nip: string | null;
    contact: CompanyContact | null;
    contact_persons?: Array<{ first_name: string; last_name: string; email: string; phone: string }>;
  };
  person: {
    account_id: string;
    first_name?: string;
    last_name?: string;
    email?: string;
    phone?: string;
    login_contact: { editable_here: boolean; note: Bilingual };
    contact: PersonContact;
    contact_changed_at?: string | null;
  };
  einvoice: EInvoice;
  may_edit: boolean;
}

export interface JsonSchemaField {
  type?: "string" | "integer" | "boolean" | "array";
  title?: string;
  "x-title-en"?: string;
  format?: string;
  enum?: string[];
  "x-enum-titles"?: { pl: string[]; en: string[] };
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  default?: unknown;
  items?: JsonSchemaField;
}

export interface RequestType {
  type: string;
  version: number;
  title: Bilingual;
  description: Bilingual;
  form_schema: { properties: Record<string, JsonSchemaField>; required: string[] };
  attachments: { min: number; max: number; max_bytes: number; content_types: string[] };
}

export interface RequestHistoryEntry {
  status: string;
  at: string;
  by: string | null;
  reason?: string | null;
  comment?: string | null;
}

export interface ClientRequest {
  request_id: string;
  reference: string;
  request_type: string;
  title: Bilingual | null;
  form: Record<string, unknown>;
  contract_ids: string[];
  attachments: Array<{ index: number; filename: string; size: number; content_type: string }>;
  status: string;
  status_label: Bilingual;
  submitted_at: string;
  updated_at: string;
  history: RequestHistoryEntry[];
}

const base = "/api/profile";

export const profileApi = {
  profile: (signal?: AbortSignal) => http.get<Profile>(`${base}/me`, { signal }),
  changeCompanyContact: (contact: CompanyContact) =>
    http.put<{ contact: CompanyContact; changed_fields: string[] }>(`${base}/company/contact`, contact),
  changeMyContact: (contact: PersonContact) =>
    http.put<{ contact: PersonContact; changed_fields: string[] }>(`${base}/me/contact`, contact),
  einvoice: (signal?: AbortSignal) => http.get<EInvoice>(`${base}/einvoice`, { signal }),
  giveConsent: (email: string) => http.post<EInvoice>(`${base}/einvoice/consent`, { email }),
  changeEInvoiceEmail: (email: string) => http.put<EInvoice>(`${base}/einvoice/email`, { email }),
  confirmEInvoice: (token: string) =>
    http.post<{ consent: boolean; email: string }>(`${base}/einvoice/confirmations`, { token }, { auth: false }),
  catalogue: (signal?: AbortSignal) => http.get<RequestType[]>(`${base}/requests/catalogue`, { signal }),
  requests: (query: Query = {}, signal?: AbortSignal) =>
    http.get<ClientRequest[]>(`${base}/requests`, { query, signal }),
  request: (id: string, signal?: AbortSignal) =>
    http.get<ClientRequest>(`${base}/requests/${encodeURIComponent(id)}`, { signal }),
  submitRequest: (type: string, data: Record<string, unknown>, files: File[]) => {
    const form = new FormData();
    form.append("type", type);
    form.append("data", JSON.stringify(data));
    for (const file of files) form.append("attachments", file, file.name);
    return request<{ request_id: string; reference: string; status: string }>("POST", `${base}/requests`, { form });
  },
  attachment: (requestId: string, index: number, filename: string) =>
    download(`${base}/requests/${encodeURIComponent(requestId)}/attachments/${index}`, filename),
};
