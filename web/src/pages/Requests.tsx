import { useEffect, useRef, useState } from "react";
import { useParams } from "react-router";
import { contractsApi, type ContractItem } from "../api/contracts";
import { profileApi, type ClientRequest, type JsonSchemaField, type RequestType } from "../api/profile";
import { useSession } from "../auth/session";
import { DownloadButton } from "../components/DownloadButton";
import { Alert, Async, Empty, Form, PageTitle, StatusBadge, SubmitButton } from "../components/ui";
import { useApi, useCatchUp } from "../components/useApi";
import { useForm } from "../components/useForm";
import { formatDateTime, formatFileSize, type Lang } from "../format";
import { useI18n } from "../i18n";

type FieldValue = string | boolean | string[];
/** The form's values by the names the API gives its errors: "data.<field>" and "attachments". */
type Values = Record<`data.${string}`, FieldValue> & { attachments: File[] };

function fieldTitle(field: JsonSchemaField, name: string, lang: Lang): string {
  return (lang === "en" ? field["x-title-en"] : field.title) ?? field.title ?? name;
}

function initialValues(type: RequestType): Values {
  const values: Values = { attachments: [] };
  for (const [name, field] of Object.entries(type.form_schema.properties)) {
    if (field.type === "boolean") values[`data.${name}`] = false;
    else if (field.type === "array") values[`data.${name}`] = [];
    else values[`data.${name}`] = typeof field.default === "string" ? field.default : "";
  }
  return values;
}

/** The JSON the API validates: empty optional fields left out, numbers as numbers. */
export function formData(type: RequestType, values: Values): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(type.form_schema.properties)) {
    const value = values[`data.${name}`];
    if (field.type === "boolean") {
      if (value === true) data[name] = true;
      else if (type.form_schema.required.includes(name)) data[name] = false;
    } else if (field.type === "array") {
      const items = (Array.isArray(value) ? value : String(value ?? "").split(/[\s,;]+/))
        .map((item) => item.trim())
        .filter(Boolean);
      if (items.length) data[name] = field.items?.pattern === "^[A-Z]{2}$" ? items.map((item) => item.toUpperCase()) : items;
    } else if (typeof value === "string" && value.trim() !== "") {
      data[name] = field.type === "integer" && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value.trim();
    }
  }
  return data;
}

function FormField({
  name,
  field,
  required,
  value,
  error,
  contracts,
  onValue,
}: {
  name: string;
  field: JsonSchemaField;
  required: boolean;
  value: FieldValue;
  error?: string;
  contracts: ContractItem[] | null;
  onValue: (value: FieldValue) => void;
}) {
  const { t, lang } = useI18n();
  const id = `request-${name}`;
  const inputName = `data.${name}`;
  const label = fieldTitle(field, name, lang);
  const describedBy = error ? `${id}-error` : undefined;
  const errorText = error ? (
    <p className="field__error" id={`${id}-error`}>
      {error}
    </p>
  ) : null;
  const star = required ? <span aria-hidden="true"> *</span> : null;
  const common = {
    id,
    name: inputName,
    "aria-invalid": error ? true : undefined,
    "aria-describedby": describedBy,
    required,
  } as const;

  if (field.type === "boolean") {
    return (
      <div className={`field${error ? " field--invalid" : ""}`}>
        <label className="checkbox" htmlFor={id}>
          <input {...common} type="checkbox" checked={value === true} onChange={(event) => onValue(event.target.checked)} />
          <span>{label}</span>
        </label>
        {errorText}
      </div>
    );
  }
  if (field.type === "array" && name === "contract_ids" && contracts) {
    const chosen = Array.isArray(value) ? value : [];
    return (
      <fieldset className={`fieldset${error ? " field--invalid" : ""}`} aria-describedby={describedBy}>
        <legend>{label}</legend>
        {contracts.map((contract) => (
          <label key={contract.contract_id} className="checkbox">
            <input
              type="checkbox"
              name={inputName}
              checked={chosen.includes(contract.contract_id)}
              onChange={(event) =>
                onValue(
                  event.target.checked
                    ? [...chosen, contract.contract_id]
                    : chosen.filter((item) => item !== contract.contract_id),
                )
              }
            />
            <span>
              {contract.contract_number} · {contract.asset.make} {contract.asset.model}
            </span>
          </label>
        ))}
        {errorText}
      </fieldset>
    );
  }
  let control;
  if (name === "contract_id" && contracts) {
    control = (
      <select {...common} value={String(value)} onChange={(event) => onValue(event.target.value)}>
        <option value="">{t("requests.choose_contract")}</option>
        {contracts.map((contract) => (
          <option key={contract.contract_id} value={contract.contract_id}>
            {contract.contract_number} · {contract.asset.make} {contract.asset.model}
          </option>
        ))}
      </select>
    );
  } else if (field.enum) {
    const titles = field["x-enum-titles"]?.[lang] ?? field.enum;
    control = (
      <select {...common} value={String(value)} onChange={(event) => onValue(event.target.value)}>
        <option value="">{t("requests.choose")}</option>
        {field.enum.map((option, index) => (
          <option key={option} value={option}>
            {titles[index] ?? option}
          </option>
        ))}
      </select>
    );
  } else if (field.type === "array") {
    control = (
      <input
        {...common}
        type="text"
        value={Array.isArray(value) ? value.join(", ") : String(value)}
        placeholder={t("requests.list_hint")}
        onChange={(event) => onValue(event.target.value.split(/\s*,\s*/))}
      />
    );
  } else if ((field.maxLength ?? 0) >= 500) {
    control = (
      <textarea {...common} value={String(value)} maxLength={field.maxLength} onChange={(event) => onValue(event.target.value)} />
    );
  } else {
    const type =
      field.format === "date"
        ? "date"
        : field.format === "email"
          ? "email"
          : field.format === "phone"
            ? "tel"
            : field.type === "integer"
              ? "number"
              : "text";
    control = (
      <input
        {...common}
        type={type}
        value={String(value)}
        maxLength={field.maxLength}
        min={field.minimum}
        max={field.maximum}
        inputMode={field.type === "integer" ? "numeric" : undefined}
        onChange={(event) => onValue(event.target.value)}
      />
    );
  }
  return (
    <div className={`field${error ? " field--invalid" : ""}`}>
      <label htmlFor={id}>
        {label}
        {star}
      </label>
      {control}
      {errorText}
    </div>
  );
}

function RequestForm({
  type,
  contracts,
  onFiled,
  onCancel,
}: {
  type: RequestType;
  contracts: ContractItem[] | null;
  onFiled: (reference: string) => void;
  onCancel: () => void;
}) {
  const { t, lang } = useI18n();
  const form = useForm(initialValues(type), async (values) => {
    const answer = await profileApi.submitRequest(type.type, formData(type, values), values.attachments);
    onFiled(answer.reference);
  });
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [type.type]);
  const { errors, values } = form;
  const files = values.attachments;

  const limits = type.attachments;
  return (
    <section className="card" aria-labelledby="request-form-title">
      <h2 id="request-form-title" ref={heading} tabIndex={-1}>
        {t("requests.file")}: {type.title[lang]}
      </h2>
      <p className="muted">{type.description[lang]}</p>
      <Form form={form}>
        {Object.entries(type.form_schema.properties).map(([name, field]) => (
          <FormField
            key={name}
            name={name}
            field={field}
            required={type.form_schema.required.includes(name)}
            value={values[`data.${name}`]}
            error={errors[`data.${name}`]}
            contracts={contracts}
            onValue={(value) => form.set(`data.${name}`, value)}
          />
        ))}
        {limits.max > 0 ? (
          <div className={`field${errors.attachments ? " field--invalid" : ""}`}>
            <label htmlFor="request-attachments">
              {t("requests.attachments")}
              {limits.min > 0 ? <span aria-hidden="true"> *</span> : null}
            </label>
            <p className="field__hint" id="request-attachments-hint">
              {t("requests.attachments_hint", { size: formatFileSize(limits.max_bytes), count: limits.max })}
            </p>
            <input
              id="request-attachments"
              className="file-input"
              name="attachments"
              type="file"
              multiple
              accept={limits.content_types.join(",")}
              aria-describedby={`request-attachments-hint${errors.attachments ? " request-attachments-error" : ""}`}
              aria-invalid={errors.attachments ? true : undefined}
              onChange={(event) => {
                form.set("attachments", [...files, ...Array.from(event.target.files ?? [])]);
                event.target.value = "";
              }}
            />
            <label className="file-picker" htmlFor="request-attachments" aria-hidden="true">
              <span className="button button--secondary button--small">{t("requests.attachments_pick")}</span>
              <span className="muted small">
                {files.length ? t("requests.attachments_count", { count: files.length }) : t("requests.attachments_none")}
              </span>
            </label>
            {files.length ? (
              <ul className="list-plain">
                {files.map((file, index) => (
                  <li key={`${file.name}-${index}`} className="row">
                    <span>
                      {file.name} <span className="muted small">({formatFileSize(file.size)})</span>
                    </span>
                    <button
                      type="button"
                      className="button button--link"
                      onClick={() => form.set("attachments", files.filter((_, position) => position !== index))}
                    >
                      {t("requests.attachment_remove", { name: file.name })}
                    </button>
                  </li>
                ))}
              </ul>
            ) : null}
            {errors.attachments ? (
              <p className="field__error" id="request-attachments-error">
                {errors.attachments}
              </p>
            ) : null}
          </div>
        ) : null}
        <div className="form-actions">
          <button type="button" className="button button--secondary" onClick={onCancel}>
            {t("common.cancel")}
          </button>
          <SubmitButton form={form}>{t("requests.submit")}</SubmitButton>
        </div>
      </Form>
    </section>
  );
}

const STATUS_TONE: Record<string, "ok" | "warn" | "bad" | "neutral"> = {
  submitted: "neutral",
  in_progress: "warn",
  completed: "ok",
  rejected: "bad",
};

function RequestDetails({ request }: { request: ClientRequest }) {
  const { t, lang } = useI18n();
  return (
    <div className="settlement">
      <h3>{t("requests.history")}</h3>
      <ol className="timeline">
        {request.history.map((entry, index) => (
          <li key={index}>
            <strong>{t(`requests.status.${entry.status}` as "requests.status.submitted")}</strong>{" "}
            <span className="muted small">{formatDateTime(entry.at)}</span>
            {entry.reason ? <div>{entry.reason}</div> : null}
            {entry.comment ? <div className="muted">{entry.comment}</div> : null}
          </li>
        ))}
      </ol>
      {request.attachments.length ? (
        <>
          <h3>{t("requests.attachments")}</h3>
          <ul className="list-plain">
            {request.attachments.map((attachment) => (
              <li key={attachment.index} className="row">
                <span>
                  {attachment.filename} <span className="muted small">({formatFileSize(attachment.size)})</span>
                </span>
                <DownloadButton
                  label={t("common.download")}
                  accessibleLabel={t("common.download_named", { name: attachment.filename })}
                  fetchFile={() => profileApi.attachment(request.request_id, attachment.index, attachment.filename)}
                />
              </li>
            ))}
          </ul>
        </>
      ) : null}
      <p className="muted small">{request.title?.[lang]}</p>
    </div>
  );
}

function MyRequests({ version, openId, expected }: { version: number; openId?: string; expected: string | null }) {
  const { t, lang } = useI18n();
  const requests = useApi((signal) => profileApi.requests({ limit: 50 }, signal), [version]);
  useCatchUp(requests, (items) => expected !== null && !items.some((item) => item.reference === expected));
  const [open, setOpen] = useState<string | null>(openId ?? null);
  return (
    <section className="card" aria-labelledby="requests-mine">
      <h2 id="requests-mine">{t("requests.mine")}</h2>
      <Async state={requests}>
        {(items) =>
          items.length === 0 ? (
            <Empty>{t("requests.mine_none")}</Empty>
          ) : (
            <div className="table-wrap">
              <table className="table table--cards">
                <caption className="visually-hidden">{t("requests.mine")}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t("requests.number")}</th>
                    <th scope="col">{t("requests.type")}</th>
                    <th scope="col">{t("requests.submitted_at")}</th>
                    <th scope="col">{t("requests.status")}</th>
                    <th scope="col">
                      <span className="visually-hidden">{t("invoices.actions")}</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((item) => {
                    const expanded = open === item.request_id;
                    return [
                      <tr key={item.request_id} data-request={item.reference}>
                        <th scope="row" data-label={t("requests.number")}>
                          {item.reference}
                        </th>
                        <td data-label={t("requests.type")}>{item.title?.[lang] ?? item.request_type}</td>
                        <td data-label={t("requests.submitted_at")}>{formatDateTime(item.submitted_at)}</td>
                        <td data-label={t("requests.status")}>
                          <StatusBadge tone={STATUS_TONE[item.status] ?? "neutral"}>{item.status_label[lang]}</StatusBadge>
                        </td>
                        <td className="actions">
                          <button
                            type="button"
                            className="button button--link"
                            aria-expanded={expanded}
                            aria-controls={`request-${item.request_id}`}
                            aria-label={`${expanded ? t("common.hide_details") : t("common.details")}: ${item.reference}`}
                            onClick={() => setOpen(expanded ? null : item.request_id)}
                          >
                            {expanded ? t("common.hide_details") : t("common.details")}
                          </button>
                        </td>
                      </tr>,
                      expanded ? (
                        <tr key={`${item.request_id}-details`} className="details-row">
                          <td colSpan={5} id={`request-${item.request_id}`}>
                            <RequestDetails request={item} />
                          </td>
                        </tr>
                      ) : null,
                    ];
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

export function RequestsPage() {
  const { t, lang } = useI18n();
  const { can, me } = useSession();
  const { requestId } = useParams();
  const mayFile = can("requests:create");
  const catalogue = useApi((signal) => profileApi.catalogue(signal), []);
  const contracts = useApi(
    (signal) =>
      can("contracts:read")
        ? contractsApi.list({ limit: 100 }, signal).then((page) => page.items)
        : Promise.resolve(null),
    [me?.client.client_id],
  );
  const [chosen, setChosen] = useState<RequestType | null>(null);
  const [filed, setFiled] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  return (
    <>
      <PageTitle>{t("requests.title")}</PageTitle>
      {filed ? <Alert tone="success">{t("requests.submitted", { number: filed })}</Alert> : null}
      {chosen ? (
        <RequestForm
          key={chosen.type}
          type={chosen}
          contracts={contracts.data ?? null}
          onCancel={() => setChosen(null)}
          onFiled={(reference) => {
            setChosen(null);
            setFiled(reference);
            setVersion((value) => value + 1);
          }}
        />
      ) : (
        <section className="card" aria-labelledby="requests-catalogue">
          <h2 id="requests-catalogue">{t("requests.catalogue")}</h2>
          {mayFile ? null : <p className="muted">{t("requests.no_permission_to_file")}</p>}
          <Async state={catalogue}>
            {(types) =>
              types.length === 0 ? (
                <Empty>{t("requests.catalogue_none")}</Empty>
              ) : (
                <ul className="list-plain">
                  {types.map((type) => (
                    <li key={type.type} className="row">
                      <span>
                        <strong>{type.title[lang]}</strong>
                        <br />
                        <span className="muted small">{type.description[lang]}</span>
                      </span>
                      {mayFile ? (
                        <button
                          type="button"
                          className="button button--secondary button--small"
                          aria-label={`${t("requests.file")}: ${type.title[lang]}`}
                          onClick={() => {
                            setFiled(null);
                            setChosen(type);
                          }}
                        >
                          {t("requests.file")}
                        </button>
                      ) : null}
                    </li>
                  ))}
                </ul>
              )
            }
          </Async>
        </section>
      )}
      {can("requests:read") ? <MyRequests version={version} openId={requestId} expected={filed} /> : null}
    </>
  );
}
