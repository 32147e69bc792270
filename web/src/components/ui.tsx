import {
  useEffect,
  useId,
  useRef,
  type InputHTMLAttributes,
  type ReactNode,
  type SelectHTMLAttributes,
  type TextareaHTMLAttributes,
} from "react";
import { ApiError } from "../api/http";
import { problemMessage } from "../api/problem";
import { formatDate, formatMoney } from "../format";
import { useI18n } from "../i18n";
import type { FormBinding } from "./useForm";

export function Money({ amount, currency }: { amount: string | null | undefined; currency?: string }) {
  return <span className="money">{formatMoney(amount, currency)}</span>;
}

export function DateText({ value }: { value: string | null | undefined }) {
  return <time dateTime={value ?? undefined}>{formatDate(value)}</time>;
}

interface FieldShell {
  label: string;
  name: string;
  error?: string;
  hint?: string;
}

/** What the control inside a Field gets: its id, and the hint and the error it is described by. */
interface ControlProps {
  id: string;
  "aria-invalid": true | undefined;
  "aria-describedby": string | undefined;
}

/** A control's label (with * when required), its hint above it and its error below it. */
function Field({
  label,
  error,
  hint,
  required,
  children,
}: Omit<FieldShell, "name"> & { required?: boolean; children: (control: ControlProps) => ReactNode }) {
  const id = useId();
  const describedBy = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(" ");
  return (
    <div className={`field${error ? " field--invalid" : ""}`}>
      <label htmlFor={id}>
        {label}
        {required ? <span aria-hidden="true"> *</span> : null}
      </label>
      {hint ? (
        <p className="field__hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
      {children({ id, "aria-invalid": error ? true : undefined, "aria-describedby": describedBy || undefined })}
      {error ? (
        <p className="field__error" id={`${id}-error`}>
          {error}
        </p>
      ) : null}
    </div>
  );
}

export function TextField({
  label,
  name,
  error,
  hint,
  value,
  onValue,
  ...input
}: FieldShell & { value: string; onValue: (value: string) => void } & Omit<
    InputHTMLAttributes<HTMLInputElement>,
    "value" | "onChange" | "name"
  >) {
  return (
    <Field label={label} error={error} hint={hint} required={input.required}>
      {(control) => (
        <input {...control} name={name} value={value} onChange={(event) => onValue(event.target.value)} {...input} />
      )}
    </Field>
  );
}

export function TextArea({
  label,
  name,
  error,
  hint,
  value,
  onValue,
  ...input
}: FieldShell & { value: string; onValue: (value: string) => void } & Omit<
    TextareaHTMLAttributes<HTMLTextAreaElement>,
    "value" | "onChange" | "name"
  >) {
  return (
    <Field label={label} error={error} hint={hint} required={input.required}>
      {(control) => (
        <textarea {...control} name={name} value={value} onChange={(event) => onValue(event.target.value)} {...input} />
      )}
    </Field>
  );
}

export function SelectField({
  label,
  name,
  error,
  hint,
  value,
  onValue,
  options,
  ...select
}: FieldShell & {
  value: string;
  onValue: (value: string) => void;
  options: Array<{ value: string; label: string }>;
} & Omit<SelectHTMLAttributes<HTMLSelectElement>, "value" | "onChange" | "name">) {
  return (
    <Field label={label} error={error} hint={hint} required={select.required}>
      {(control) => (
        <select {...control} name={name} value={value} onChange={(event) => onValue(event.target.value)} {...select}>
          {options.map((option) => (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

/** The form-level message: announced to screen readers, focusable so focus can be moved to it. */
export function FormAlert({ message, tone = "error" }: { message: string | null; tone?: "error" | "info" | "success" }) {
  if (!message) return null;
  return (
    <div className={`alert alert--${tone}`} role={tone === "error" ? "alert" : "status"} tabIndex={-1} data-form-alert>
      {message}
    </div>
  );
}

/** A form of useForm: an optional intro, the form-level message, then the fields and buttons. */
export function Form({ form, intro, children }: { form: FormBinding; intro?: ReactNode; children: ReactNode }) {
  return (
    <form ref={form.formRef} onSubmit={form.onSubmit} noValidate>
      {intro}
      <FormAlert message={form.formError} />
      {children}
    </form>
  );
}

/** The form's main button: locked, saying "wait", while the form is being sent. */
export function SubmitButton({ form, block, children }: { form: FormBinding; block?: boolean; children: ReactNode }) {
  const { t } = useI18n();
  return (
    <button
      type="submit"
      className={`button button--primary${block ? " button--block" : ""}`}
      disabled={form.submitting}
    >
      {form.submitting ? t("common.wait") : children}
    </button>
  );
}

export function Alert({ children, tone = "info" }: { children: ReactNode; tone?: "error" | "info" | "success" | "warning" }) {
  return (
    <div className={`alert alert--${tone}`} role={tone === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}

export function Loading({ label }: { label?: string }) {
  const { t } = useI18n();
  return (
    <p className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> {label ?? t("common.loading")}
    </p>
  );
}

/** What a screen shows when its data could not be loaded, with a way to try again. */
export function LoadError({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useI18n();
  const message =
    error instanceof ApiError ? problemMessage(error.problem, error.status, t) : t("error.unexpected");
  return (
    <div className="alert alert--error" role="alert">
      <p>{message}</p>
      {error instanceof ApiError && error.correlationId ? (
        <p className="muted small">{t("error.reference", { id: error.correlationId })}</p>
      ) : null}
      {onRetry ? (
        <button type="button" className="button button--secondary" onClick={onRetry}>
          {t("common.retry")}
        </button>
      ) : null}
    </div>
  );
}

/** A section with data that may still be loading or may have failed. */
export function Async<T>({
  state,
  children,
  label,
}: {
  state: { data: T | undefined; error: unknown; loading: boolean; reload: () => void };
  children: (data: T) => ReactNode;
  label?: string;
}) {
  if (state.error) return <LoadError error={state.error} onRetry={state.reload} />;
  if (state.data === undefined) return <Loading label={label} />;
  return <>{children(state.data)}</>;
}

/**
 * A modal window on the native <dialog>: focus moves into it, Escape closes it, the page behind is
 * inert, and focus returns to what opened it.
 */
export function Dialog({
  open,
  title,
  onClose,
  children,
}: {
  open: boolean;
  title: string;
  onClose: () => void;
  children: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      const opener = document.activeElement as HTMLElement | null;
      if (typeof dialog.showModal === "function") dialog.showModal();
      else dialog.setAttribute("open", "");
      const first = dialog.querySelector<HTMLElement>("input, select, textarea, button:not(.dialog__close)");
      first?.focus();
      return () => {
        opener?.focus?.();
      };
    }
    if (!open && dialog.open) {
      if (typeof dialog.close === "function") dialog.close();
      else dialog.removeAttribute("open");
    }
    return undefined;
  }, [open]);
  const { t } = useI18n();
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
    >
      {open ? (
        <>
          <div className="dialog__head">
            <h2 id={titleId}>{title}</h2>
            <button type="button" className="dialog__close" onClick={onClose} aria-label={t("common.close")}>
              ×
            </button>
          </div>
          <div className="dialog__body">{children}</div>
        </>
      ) : null}
    </dialog>
  );
}

export function PageTitle({ children, actions }: { children: ReactNode; actions?: ReactNode }) {
  return (
    <div className="page-title">
      <h1 tabIndex={-1} data-page-title>
        {children}
      </h1>
      {actions ? <div className="page-title__actions">{actions}</div> : null}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

export function StatusBadge({ tone, children }: { tone: "ok" | "warn" | "bad" | "neutral"; children: ReactNode }) {
  return <span className={`badge badge--${tone}`}>{children}</span>;
}
