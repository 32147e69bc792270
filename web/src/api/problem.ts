/** problem+json -> what a form shows: a message per field, next to it, and one for the form. */

import { isMessageKey, type MessageKey, type Translate } from "../i18n";
import { ApiError, type FieldProblem, type Problem } from "./http";

export type FieldErrors = Record<string, string>;

export interface FormErrors {
  /** Messages for the fields of the form, by field name. */
  fields: FieldErrors;
  /** The message for the whole form (a refusal with no field, a lost connection, a 5xx). */
  form: string | null;
}

/**
 * The field name a form uses for an API field: the API names nested input with dots
 * ("client.nip", "contact_persons.0.email"); a form may rename them with `aliases`.
 */
export function formField(apiField: string, aliases?: Record<string, string>): string {
  if (aliases && apiField in aliases) return aliases[apiField];
  return apiField;
}

/** The last named (non-index) part of a field path: "contact_persons.0.email" -> "email". */
function leaf(field: string): string {
  const parts = field.split(".").filter((part) => !/^\d+$/.test(part));
  return parts[parts.length - 1] ?? field;
}

const FIELD_KINDS: Array<[RegExp, string]> = [
  [/e_?mail/i, "email"],
  [/phone|telefon/i, "phone"],
  [/nip/i, "nip"],
  [/password|haslo/i, "password"],
  [/postal|zip|kod_pocztowy/i, "postal_code"],
  [/iban|account_number|bank_account/i, "iban"],
  [/code|kod/i, "code"],
];

function fieldKind(field: string): string | null {
  const name = leaf(field);
  for (const [pattern, kind] of FIELD_KINDS) if (pattern.test(name)) return kind;
  return null;
}

/**
 * The Polish (or English) message for one field error. Tries, in order: a text for this code on
 * this kind of field ("problem.value_error.nip"), a text for the code ("problem.missing"), a text
 * for the kind of field, and a general one. The API's English message is never shown as it is.
 */
export function fieldMessage(error: FieldProblem, t: Translate): string {
  const kind = fieldKind(error.field);
  const generic =
    error.code === "value_error" ||
    error.code === "format" ||
    error.code.endsWith("_parsing") ||
    error.code.includes("pattern");
  const candidates = [
    kind ? `problem.${error.code}.${kind}` : null,
    kind && generic ? `problem.invalid.${kind}` : null,
    `problem.${error.code}`,
  ];
  for (const candidate of candidates) {
    if (candidate && isMessageKey(candidate)) return t(candidate, limitsOf(error));
  }
  return t("problem.invalid");
}

/** Numbers a message may show ("at least {min} characters"), read from pydantic's English text. */
function limitsOf(error: FieldProblem): Record<string, string> {
  const number = /(\d+)/.exec(error.message ?? "");
  return number ? { min: number[1], max: number[1], limit: number[1] } : {};
}

/** The message for a whole problem with no field: by code, else by status. */
export function problemMessage(problem: Problem | null, status: number, t: Translate): string {
  if (problem?.code) {
    const key = `problem.code.${problem.code}`;
    if (isMessageKey(key)) return t(key);
  }
  const byStatus: MessageKey =
    status === 0
      ? "error.network"
      : status >= 500
        ? "error.server"
        : status === 401
          ? "error.unauthenticated"
          : status === 403
            ? "error.forbidden"
            : status === 404
              ? "error.not_found"
              : status === 409
                ? "error.conflict"
                : status === 413
                  ? "problem.code.payload_too_large"
                  : status === 429
                    ? "error.too_many"
                    : "error.invalid";
  return t(byStatus);
}

/**
 * Everything a form shows for a failed call. Field errors go next to their fields when the form
 * has such a field (`known`); the rest, and refusals without a field, become the form's message.
 */
export function toFormErrors(
  error: unknown,
  t: Translate,
  options: {
    known?: Iterable<string>;
    aliases?: Record<string, string>;
    /** Refusals without a field that still belong next to one: {"activation_code_invalid": "code"}. */
    codeFields?: Record<string, string>;
  } = {},
): FormErrors {
  if (!(error instanceof ApiError)) {
    return { fields: {}, form: t("error.unexpected") };
  }
  const known = options.known ? new Set(options.known) : null;
  const fields: FieldErrors = {};
  const unplaced: string[] = [];
  for (const item of error.problem?.errors ?? []) {
    let name = formField(item.field, options.aliases);
    // A list item's error ("attachments.0", "data.countries.1") belongs to the list's field.
    const list = name.replace(/\.\d+$/, "");
    if (known && !known.has(name) && known.has(list)) name = list;
    const message = fieldMessage(item, t);
    if (!known || known.has(name)) {
      if (!fields[name]) fields[name] = message;
    } else {
      unplaced.push(message);
    }
  }
  const code = error.problem?.code;
  if (code && options.codeFields?.[code] && Object.keys(fields).length === 0 && unplaced.length === 0) {
    fields[options.codeFields[code]] = problemMessage(error.problem, error.status, t);
  }
  const placed = Object.keys(fields).length > 0;
  let form: string | null = null;
  if (error.kind === "network" || error.kind === "server") {
    form = problemMessage(error.problem, error.status, t);
  } else if (!placed) {
    form = unplaced[0] ?? problemMessage(error.problem, error.status, t);
  } else if (unplaced.length) {
    form = unplaced[0];
  }
  if (placed && !form) form = t("error.fix_fields");
  return { fields, form };
}

export function isRetryable(error: unknown): boolean {
  return error instanceof ApiError && (error.kind === "network" || error.kind === "server");
}
