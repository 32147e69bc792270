import { useMemo, useState } from "react";
import { contractsApi } from "../api/contracts";
import { identityApi, type ScopeInfo, type SubAccount } from "../api/identity";
import { profileApi } from "../api/profile";
import { useSession } from "../auth/session";
import { EInvoiceCard } from "../components/EInvoice";
import { Alert, Async, Empty, Form, PageTitle, StatusBadge, SubmitButton, TextField } from "../components/ui";
import { useApi, useCatchUp } from "../components/useApi";
import { useForm } from "../components/useForm";
import { useI18n } from "../i18n";

/** The permission-scope picker: a filter over the catalogue, a checkbox per scope, all / none. */
export function ScopePicker({
  scopes,
  chosen,
  onChange,
  error,
}: {
  scopes: ScopeInfo[];
  chosen: string[];
  onChange: (scopes: string[]) => void;
  error?: string;
}) {
  const { t, lang } = useI18n();
  const [filter, setFilter] = useState("");
  const label = (scope: ScopeInfo) => (lang === "en" ? scope.label_en : scope.label_pl);
  const needle = filter.trim().toLocaleLowerCase("pl");
  const shown = scopes.filter((scope) => !needle || label(scope).toLocaleLowerCase("pl").includes(needle));
  return (
    <fieldset
      className={`fieldset${error ? " field--invalid" : ""}`}
      aria-describedby={`scopes-hint${error ? " scopes-error" : ""}`}
    >
      <legend>{t("subaccounts.scopes")}</legend>
      <p className="field__hint" id="scopes-hint">
        {t("subaccounts.scopes_hint")}
      </p>
      <div className="field">
        <label htmlFor="scope-filter">{t("subaccounts.scope_filter")}</label>
        <input
          id="scope-filter"
          type="search"
          value={filter}
          placeholder={t("subaccounts.scope_filter_placeholder")}
          onChange={(event) => setFilter(event.target.value)}
        />
      </div>
      <div className="row">
        <button type="button" className="button button--link" onClick={() => onChange(scopes.map((scope) => scope.scope))}>
          {t("subaccounts.select_all")}
        </button>
        <button type="button" className="button button--link" onClick={() => onChange([])}>
          {t("subaccounts.select_none")}
        </button>
      </div>
      <div className="scope-list" role="group" aria-label={t("subaccounts.scopes")}>
        {shown.map((scope) => (
          <label key={scope.scope} className="checkbox">
            <input
              type="checkbox"
              name="scopes"
              value={scope.scope}
              checked={chosen.includes(scope.scope)}
              onChange={(event) =>
                onChange(
                  event.target.checked ? [...chosen, scope.scope] : chosen.filter((item) => item !== scope.scope),
                )
              }
            />
            <span>{label(scope)}</span>
          </label>
        ))}
      </div>
      {error ? (
        <p className="field__error" id="scopes-error">
          {error}
        </p>
      ) : null}
    </fieldset>
  );
}

function statusOf(account: SubAccount): ["ok" | "warn" | "neutral", "subaccounts.status.active" | "subaccounts.status.pending" | "subaccounts.status.inactive"] {
  if (!account.active || account.account_status === "deactivated") return ["neutral", "subaccounts.status.inactive"];
  if (account.account_status === "active") return ["ok", "subaccounts.status.active"];
  return ["warn", "subaccounts.status.pending"];
}

function SubAccountList({ version, expected }: { version: number; expected: string | null }) {
  const { t, lang } = useI18n();
  const accounts = useApi((signal) => identityApi.subAccounts(signal), [version]);
  useCatchUp(accounts, (items) => expected !== null && !items.some((item) => item.email === expected));
  const scopes = useApi((signal) => identityApi.scopes(signal), []);
  const labels = useMemo(
    () => new Map((scopes.data ?? []).map((scope) => [scope.scope, lang === "en" ? scope.label_en : scope.label_pl])),
    [scopes.data, lang],
  );
  return (
    <section className="card" aria-labelledby="subaccounts-list">
      <h2 id="subaccounts-list">{t("subaccounts.list")}</h2>
      <Async state={accounts}>
        {(items) =>
          items.length === 0 ? (
            <Empty>{t("subaccounts.none")}</Empty>
          ) : (
            <div className="table-wrap">
              <table className="table table--cards">
                <caption className="visually-hidden">{t("subaccounts.list")}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t("subaccounts.person")}</th>
                    <th scope="col">{t("subaccounts.email")}</th>
                    <th scope="col">{t("subaccounts.scopes")}</th>
                    <th scope="col">{t("subaccounts.status")}</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((account) => {
                    const [tone, label] = statusOf(account);
                    return (
                      <tr key={account.account_id}>
                        <th scope="row" data-label={t("subaccounts.person")}>
                          {account.first_name} {account.last_name}
                        </th>
                        <td data-label={t("subaccounts.email")}>{account.email}</td>
                        <td data-label={t("subaccounts.scopes")}>
                          {account.scopes.map((scope) => labels.get(scope) ?? scope).join(", ")}
                          {account.contract_ids ? (
                            <span className="muted small">
                              {" "}
                              · {t("subaccounts.contracts_count", { count: account.contract_ids.length })}
                            </span>
                          ) : null}
                        </td>
                        <td data-label={t("subaccounts.status")}>
                          <StatusBadge tone={tone}>{t(label)}</StatusBadge>
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )
        }
      </Async>
    </section>
  );
}

/** The e-invoice service of the client the sub-account is added to, with its address window. */
function EInvoiceSection({ onSaved }: { onSaved: (message: string) => void }) {
  const { me, can } = useSession();
  const einvoice = useApi((signal) => profileApi.einvoice(signal), [me?.client.client_id]);
  return (
    <Async state={einvoice}>
      {(data) => (
        <EInvoiceCard
          einvoice={data}
          mayEdit={can("profile:edit")}
          onSaved={(message, next) => {
            einvoice.setData(next);
            onSaved(message);
          }}
        />
      )}
    </Async>
  );
}

export function SubAccountsPage() {
  const { t } = useI18n();
  const { me, can } = useSession();
  const [created, setCreated] = useState<string | null>(null);
  const [einvoiceNotice, setEInvoiceNotice] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  const catalogue = useApi((signal) => identityApi.scopes(signal), []);
  // Only what the manager holds can be granted.
  const grantable = (catalogue.data ?? []).filter((scope) => me?.scopes.includes(scope.scope));
  const limited = me?.contract_ids != null;
  const contracts = useApi(
    (signal) =>
      can("contracts:read") ? contractsApi.list({ limit: 100 }, signal).then((page) => page.items) : Promise.resolve([]),
    [me?.client.client_id],
  );
  const form = useForm(
    {
      first_name: "",
      last_name: "",
      email: "",
      phone: "",
      scopes: [] as string[],
      contracts_mode: limited ? "some" : "all",
      contract_ids: [] as string[],
    },
    async (values) => {
      await identityApi.createSubAccount({
        first_name: values.first_name.trim(),
        last_name: values.last_name.trim(),
        email: values.email.trim(),
        phone: values.phone.trim(),
        scopes: values.scopes,
        contract_ids: values.contracts_mode === "all" ? null : values.contract_ids,
      });
      setCreated(values.email.trim());
      setVersion((value) => value + 1);
      form.setValues({ ...values, first_name: "", last_name: "", email: "", phone: "", scopes: [], contract_ids: [] });
    },
    {
      validate: (values) => {
        const errors: Record<string, string> = {};
        if (values.scopes.length === 0) errors.scopes = t("subaccounts.pick_scope");
        if (values.contracts_mode === "some" && values.contract_ids.length === 0)
          errors.contract_ids = t("subaccounts.pick_contract");
        return errors;
      },
    },
  );
  const text = (name: "first_name" | "last_name" | "email" | "phone", extra: Record<string, unknown> = {}) => (
    <TextField label={t(`subaccounts.${name}`)} required {...form.field(name)} {...extra} />
  );
  return (
    <>
      <PageTitle>{t("subaccounts.title")}</PageTitle>
      {created ? <Alert tone="success">{t("subaccounts.created", { email: created })}</Alert> : null}
      {einvoiceNotice ? <Alert tone="success">{einvoiceNotice}</Alert> : null}
      {can("profile:read") ? <EInvoiceSection onSaved={setEInvoiceNotice} /> : null}
      <section className="card" aria-labelledby="subaccount-add">
        <h2 id="subaccount-add">{t("subaccounts.add")}</h2>
        <Form form={form}>
          <div className="form-grid">
            {text("first_name", { autoComplete: "off" })}
            {text("last_name", { autoComplete: "off" })}
          </div>
          <div className="form-grid">
            {text("email", { type: "email", autoComplete: "off" })}
            {text("phone", { type: "tel", autoComplete: "off", hint: t("subaccounts.phone_hint") })}
          </div>
          <Async state={catalogue}>
            {() => (
              <ScopePicker
                scopes={grantable}
                chosen={form.values.scopes}
                onChange={(scopes) => form.set("scopes", scopes)}
                error={form.errors.scopes}
              />
            )}
          </Async>
          <fieldset className={`fieldset${form.errors.contract_ids ? " field--invalid" : ""}`}>
            <legend>{t("subaccounts.contracts")}</legend>
            {limited ? null : (
              <label className="checkbox">
                <input
                  type="radio"
                  name="contracts_mode"
                  value="all"
                  checked={form.values.contracts_mode === "all"}
                  onChange={() => form.set("contracts_mode", "all")}
                />
                <span>{t("subaccounts.contracts_all")}</span>
              </label>
            )}
            <label className="checkbox">
              <input
                type="radio"
                name="contracts_mode"
                value="some"
                checked={form.values.contracts_mode === "some"}
                onChange={() => form.set("contracts_mode", "some")}
              />
              <span>{t("subaccounts.contracts_some")}</span>
            </label>
            {form.values.contracts_mode === "some" ? (
              <div className="nested">
                {(contracts.data ?? []).map((contract) => (
                  <label key={contract.contract_id} className="checkbox">
                    <input
                      type="checkbox"
                      name="contract_ids"
                      value={contract.contract_id}
                      checked={form.values.contract_ids.includes(contract.contract_id)}
                      onChange={(event) =>
                        form.set(
                          "contract_ids",
                          event.target.checked
                            ? [...form.values.contract_ids, contract.contract_id]
                            : form.values.contract_ids.filter((id) => id !== contract.contract_id),
                        )
                      }
                    />
                    <span>
                      {contract.contract_number} · {contract.asset.make} {contract.asset.model}
                    </span>
                  </label>
                ))}
              </div>
            ) : null}
            {form.errors.contract_ids ? <p className="field__error">{form.errors.contract_ids}</p> : null}
          </fieldset>
          <div className="form-actions">
            <SubmitButton form={form}>{t("subaccounts.create")}</SubmitButton>
          </div>
        </Form>
      </section>
      <SubAccountList version={version} expected={created ? created.toLowerCase() : null} />
    </>
  );
}
