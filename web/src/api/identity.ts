/** services/identity: activation, login, tokens, /me, client context, sub-accounts. */
import { http } from "./http";

export interface TokenAnswer {
  access_token: string;
  token_type: string;
  expires_in: number;
  client_id: string;
}

export interface ClientRef {
  client_id: string;
  name: string;
}

export interface Me {
  account_id: string;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  phone: string | null;
  /** The active client. */
  client: { client_id: string; name?: string };
  scopes: string[];
  /** null: every contract of the client. */
  contract_ids: string[] | null;
  /** Every client the person may act for (switchable when more than one). */
  clients: ClientRef[];
}

export interface ScopeInfo {
  scope: string;
  label_pl: string;
  label_en: string;
}

export interface SubAccount {
  account_id: string;
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  phone: string | null;
  account_status: "provisioned" | "active" | "deactivated" | "none" | null;
  active: boolean;
  scopes: string[];
  contract_ids: string[] | null;
  created_by: string | null;
  created_at: string | null;
}

export interface NewSubAccount {
  first_name: string;
  last_name: string;
  email: string;
  phone: string;
  scopes: string[];
  /** null: every contract of the client. */
  contract_ids: string[] | null;
}

const base = "/api/identity";

export const identityApi = {
  /** Always 202: the SMS goes out only to a provisioned, not yet active account (no enumeration). */
  startActivation: (email: string) =>
    http.post<{ status: "accepted" }>(`${base}/activation/start`, { email }, { auth: false }),
  /** The SMS code (6 digits): the e-mail with the activation link goes out. */
  verifyCode: (email: string, code: string) =>
    http.post<{ status: "link_sent" }>(`${base}/activation/verify`, { email, code }, { auth: false }),
  completeActivation: (token: string, password: string) =>
    http.post<{ status: "activated" }>(`${base}/activation/complete`, { token, password }, { auth: false }),
  /** The access token in the body; the refresh token only as an HttpOnly, SameSite=Strict cookie. */
  login: (email: string, password: string) =>
    http.post<TokenAnswer>(`${base}/login`, { email, password }, { auth: false }),
  refresh: () => http.post<TokenAnswer>(`${base}/token/refresh`, undefined, { auth: false }),
  logout: () => http.post<void>(`${base}/logout`, undefined, { auth: true }),
  me: (signal?: AbortSignal) => http.get<Me>(`${base}/me`, { signal }),
  switchClient: (clientId: string) => http.post<TokenAnswer>(`${base}/context`, { client_id: clientId }),
  scopes: (signal?: AbortSignal) => http.get<ScopeInfo[]>(`${base}/scopes`, { auth: false, signal }),
  subAccounts: (signal?: AbortSignal) => http.get<SubAccount[]>(`${base}/subaccounts`, { signal }),
  /**
   * The current password again and the new login e-mail: 202 whether or not the address is free (no
   * enumeration); the confirmation link goes to the new address, nothing changes until it is opened.
   */
  requestEmailChange: (newEmail: string, currentPassword: string) =>
    http.post<{ status: "confirmation_sent" }>(`${base}/contact/email`, {
      new_email: newEmail,
      current_password: currentPassword,
    }),
  /** The e-mailed link's token; no login needed (the link may be opened on another device). */
  confirmEmailChange: (token: string) =>
    http.post<{ status: "changed" }>(`${base}/contact/email/confirm`, { token }, { auth: false }),
  /** The current password again and the new phone for SMS codes: the code goes by SMS to the new number. */
  requestPhoneChange: (newPhone: string, currentPassword: string) =>
    http.post<{ status: "confirmation_sent" }>(`${base}/contact/phone`, {
      new_phone: newPhone,
      current_password: currentPassword,
    }),
  confirmPhoneChange: (code: string) => http.post<{ status: "changed" }>(`${base}/contact/phone/confirm`, { code }),
  createSubAccount: (body: NewSubAccount) =>
    http.post<{ account_id: string; client_id: string; scopes: string[]; contract_ids: string[] | null }>(
      `${base}/subaccounts`,
      body,
    ),
};

export function clientName(me: Me): string {
  return me.client.name || me.clients.find((client) => client.client_id === me.client.client_id)?.name || me.client.client_id;
}
