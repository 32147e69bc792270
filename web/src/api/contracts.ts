/** services/contracts, client zone: /api/contracts/contracts (scope contracts:read). */
import { http, type Query } from "./http";

export type ContractType = "operating" | "financial";
export type ContractStatus = "active" | "terminated";

export interface AssetSummary {
  kind: string;
  make: string;
  model: string;
  registration_number?: string | null;
  year?: number | null;
}

export interface Asset extends AssetSummary {
  vin?: string | null;
}

export interface ContractItem {
  contract_id: string;
  contract_number: string;
  contract_type: ContractType;
  asset: AssetSummary;
  start_date: string;
  end_date: string;
  net_value: string;
  currency: string;
  status: ContractStatus;
}

export interface ContractPage {
  items: ContractItem[];
  total: number;
  limit: number;
  offset: number;
}

export interface ScheduleSummary {
  instalments: number;
  first_due_date: string;
  last_due_date: string;
  total_net: string;
  total_vat: string;
  total_gross: string;
  currency: string;
  revision: number;
  updated_at: string;
}

export interface ContractDetails extends ContractItem {
  asset: Asset;
  client_name: string;
  client_nip: string;
  terminated_on?: string | null;
  termination_reason?: "completed" | "early_termination" | "cancelled" | "assigned" | null;
  schedule?: ScheduleSummary | null;
}

export interface Instalment {
  number: number;
  due_date: string;
  net: string;
  vat: string;
  gross: string;
  capital: string;
  interest: string;
}

export interface Schedule {
  contract_id: string;
  contract_number: string | null;
  currency: string;
  revision: number;
  agreed_at: string | null;
  changed_at: string | null;
  change_reason: string | null;
  instalments: Instalment[];
  totals: { net: string; vat: string; gross: string; capital: string; interest: string } | null;
}

export interface ContractQuery extends Query {
  status?: ContractStatus;
  contract_type?: ContractType;
  q?: string;
  sort?: "start_date" | "end_date" | "contract_number";
  order?: "asc" | "desc";
  limit?: number;
  offset?: number;
}

const base = "/api/contracts/contracts";

export const contractsApi = {
  list: (query: ContractQuery = {}, signal?: AbortSignal) => http.get<ContractPage>(base, { query, signal }),
  get: (id: string, signal?: AbortSignal) => http.get<ContractDetails>(`${base}/${encodeURIComponent(id)}`, { signal }),
  schedule: (id: string, signal?: AbortSignal) =>
    http.get<Schedule>(`${base}/${encodeURIComponent(id)}/schedule`, { signal }),
};
