import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { contractsApi, type ContractItem, type ContractStatus } from "../api/contracts";
import { Async, DateText, Empty, Money, PageTitle, StatusBadge } from "../components/ui";
import { useApi } from "../components/useApi";
import { useI18n, type MessageKey } from "../i18n";

const PAGE_SIZE = 20;

export function contractTypeKey(type: string): MessageKey {
  return type === "financial" ? "contracts.type.financial" : "contracts.type.operating";
}

export function ContractStatusBadge({ status }: { status: string }) {
  const { t } = useI18n();
  return status === "active" ? (
    <StatusBadge tone="ok">{t("contracts.status.active")}</StatusBadge>
  ) : (
    <StatusBadge tone="neutral">{t("contracts.status.terminated")}</StatusBadge>
  );
}

export function assetName(asset: ContractItem["asset"]): string {
  return [asset.make, asset.model].filter(Boolean).join(" ");
}

export function ContractsPage() {
  const { t } = useI18n();
  const [params, setParams] = useSearchParams();
  const status = (params.get("status") as ContractStatus | null) ?? undefined;
  const q = params.get("q") ?? "";
  const offset = Number(params.get("offset") ?? 0) || 0;
  const [search, setSearch] = useState(q);
  const contracts = useApi(
    (signal) => contractsApi.list({ status, q: q || undefined, limit: PAGE_SIZE, offset }, signal),
    [status, q, offset],
  );
  const update = (changes: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(changes)) {
      if (value) next.set(key, value);
      else next.delete(key);
    }
    setParams(next);
  };

  return (
    <>
      <PageTitle>{t("contracts.title")}</PageTitle>
      <form
        className="filters"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          update({ q: search.trim() || null, offset: null });
        }}
      >
        <div className="field field--inline">
          <label htmlFor="contracts-q">{t("contracts.search")}</label>
          <input
            id="contracts-q"
            name="q"
            type="search"
            value={search}
            placeholder={t("contracts.search_placeholder")}
            onChange={(event) => setSearch(event.target.value)}
          />
        </div>
        <div className="field field--inline">
          <label htmlFor="contracts-status">{t("contracts.status")}</label>
          <select
            id="contracts-status"
            name="status"
            value={status ?? ""}
            onChange={(event) => update({ status: event.target.value || null, offset: null })}
          >
            <option value="">{t("common.all")}</option>
            <option value="active">{t("contracts.status.active")}</option>
            <option value="terminated">{t("contracts.status.terminated")}</option>
          </select>
        </div>
        <button type="submit" className="button button--secondary">
          {t("common.search")}
        </button>
      </form>
      <Async state={contracts}>
        {(page) =>
          page.items.length === 0 ? (
            <Empty>{t("contracts.empty")}</Empty>
          ) : (
            <>
              <div className="table-wrap">
                <table className="table table--cards">
                  <caption className="visually-hidden">{t("contracts.title")}</caption>
                  <thead>
                    <tr>
                      <th scope="col">{t("contracts.number")}</th>
                      <th scope="col">{t("contracts.asset")}</th>
                      <th scope="col">{t("contracts.type")}</th>
                      <th scope="col">{t("contracts.period")}</th>
                      <th scope="col" className="num">
                        {t("contracts.net_value")}
                      </th>
                      <th scope="col">{t("contracts.status")}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((contract) => (
                      <tr key={contract.contract_id}>
                        <th scope="row" data-label={t("contracts.number")}>
                          <Link to={`/umowy/${encodeURIComponent(contract.contract_id)}`}>
                            {contract.contract_number}
                          </Link>
                        </th>
                        <td data-label={t("contracts.asset")}>
                          {assetName(contract.asset)}
                          {contract.asset.registration_number ? (
                            <span className="muted"> · {contract.asset.registration_number}</span>
                          ) : null}
                        </td>
                        <td data-label={t("contracts.type")}>{t(contractTypeKey(contract.contract_type))}</td>
                        <td data-label={t("contracts.period")}>
                          <DateText value={contract.start_date} /> – <DateText value={contract.end_date} />
                        </td>
                        <td data-label={t("contracts.net_value")} className="num">
                          <Money amount={contract.net_value} currency={contract.currency} />
                        </td>
                        <td data-label={t("contracts.status")}>
                          <ContractStatusBadge status={contract.status} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <Pager
                total={page.total}
                offset={offset}
                size={PAGE_SIZE}
                onPage={(next) => update({ offset: next ? String(next) : null })}
              />
            </>
          )
        }
      </Async>
    </>
  );
}

export function Pager({
  total,
  offset,
  size,
  onPage,
}: {
  total: number;
  offset: number;
  size: number;
  onPage: (offset: number) => void;
}) {
  const { t } = useI18n();
  if (total <= size) return null;
  const page = Math.floor(offset / size) + 1;
  const pages = Math.ceil(total / size);
  return (
    <nav className="pager" aria-label={t("common.pages")}>
      <button type="button" className="button button--secondary" disabled={page <= 1} onClick={() => onPage(offset - size)}>
        {t("common.previous")}
      </button>
      <span aria-live="polite">{t("common.page_of", { page, pages })}</span>
      <button
        type="button"
        className="button button--secondary"
        disabled={page >= pages}
        onClick={() => onPage(offset + size)}
      >
        {t("common.next")}
      </button>
    </nav>
  );
}
