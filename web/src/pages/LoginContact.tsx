/**
 * The login e-mail and the phone for SMS codes: identity changes them only with the current password
 * and a confirmation sent to the new address (a link) or number (a code). After the change every
 * other session of the person ends; the one that asked (the e-mail) or confirmed (the phone) goes on.
 */
import { useEffect, useRef, useState, type ReactNode } from "react";
import { Link } from "react-router";
import { ApiError } from "../api/http";
import { identityApi } from "../api/identity";
import { oncePerToken } from "../api/oncePerToken";
import { isRetryable, problemMessage, toFormErrors, type FieldErrors } from "../api/problem";
import { useSession } from "../auth/session";
import { Alert, Form, PageTitle, SubmitButton, TextField } from "../components/ui";
import { useApi } from "../components/useApi";
import { useForm, type BoundField, type FormBinding } from "../components/useForm";
import { useLinkToken } from "../components/useLinkToken";
import { useI18n, type Translate } from "../i18n";

// What identity checks too (an e-mail address of at most 254 characters, a phone number, a 6-digit
// code); identity has the last word and its refusals show next to the same fields.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE = /^(\+|00)?\d{9,15}$/;
const CODE = /^\d{6}$/;
const MAX_EMAIL = 254;
const MAX_PASSWORD = 1024;

const phoneDigits = (value: string) => value.replace(/[\s\-().]/g, "");

function passwordErrors(password: string, t: Translate): FieldErrors {
  if (!password) return { current_password: t("problem.missing") };
  if (password.length > MAX_PASSWORD) return { current_password: t("problem.string_too_long") };
  return {};
}

export function emailChangeErrors(
  values: { new_email: string; current_password: string },
  current: string | null,
  t: Translate,
): FieldErrors {
  const email = values.new_email.trim();
  const errors: FieldErrors = {};
  if (!email) errors.new_email = t("problem.missing");
  else if (email.length > MAX_EMAIL) errors.new_email = t("problem.string_too_long");
  else if (!EMAIL.test(email)) errors.new_email = t("problem.invalid.email");
  else if (current && email.toLowerCase() === current.trim().toLowerCase()) errors.new_email = t("problem.email_unchanged");
  return { ...errors, ...passwordErrors(values.current_password, t) };
}

export function phoneChangeErrors(values: { new_phone: string; current_password: string }, t: Translate): FieldErrors {
  const phone = values.new_phone.trim();
  const errors: FieldErrors = {};
  if (!phone) errors.new_phone = t("problem.missing");
  else if (!PHONE.test(phoneDigits(phone))) errors.new_phone = t("problem.invalid.phone");
  return { ...errors, ...passwordErrors(values.current_password, t) };
}

function codeErrors(code: string, t: Translate): FieldErrors {
  if (!code.trim()) return { code: t("problem.missing") };
  return CODE.test(code.trim()) ? {} : { code: t("problem.string_pattern_mismatch.code") };
}

function focusField(form: HTMLFormElement | null, name: string) {
  requestAnimationFrame(() => form?.querySelector<HTMLElement>(`[name="${name}"]`)?.focus());
}

/** The first step of both changes: the new address or number, the current password, and the button. */
function ChangeRequestForm({
  form,
  intro,
  submit,
  children,
}: {
  form: FormBinding & { field: (name: "current_password") => BoundField<string> };
  intro: string;
  submit: string;
  children: ReactNode;
}) {
  const { t } = useI18n();
  return (
    <Form form={form} intro={<p>{intro}</p>}>
      {children}
      <TextField
        label={t("contact.current_password")}
        hint={t("contact.current_password_hint")}
        type="password"
        autoComplete="current-password"
        required
        {...form.field("current_password")}
      />
      <div className="form-actions">
        <SubmitButton form={form}>{submit}</SubmitButton>
      </div>
    </Form>
  );
}

/** "Zmień e-mail logowania": current password + new address, then "check your inbox". */
export function ChangeLoginEmail({ current, onClose }: { current: string | null; onClose: () => void }) {
  const { t } = useI18n();
  const [sentTo, setSentTo] = useState<string | null>(null);
  const form = useForm(
    { new_email: "", current_password: "" },
    async (values) => {
      const email = values.new_email.trim();
      await identityApi.requestEmailChange(email, values.current_password);
      setSentTo(email);
    },
    { validate: (values) => emailChangeErrors(values, current, t) },
  );
  if (sentTo) {
    return (
      <div data-testid="login-email-sent">
        <Alert tone="success">{t("contact.email_sent", { email: sentTo })}</Alert>
        <p>{t("contact.email_sent_next")}</p>
        <div className="form-actions">
          <button type="button" className="button button--primary" onClick={onClose}>
            {t("common.close")}
          </button>
        </div>
      </div>
    );
  }
  return (
    <ChangeRequestForm form={form} intro={t("contact.email_intro")} submit={t("contact.send_link")}>
      <TextField
        label={t("contact.new_email")}
        type="email"
        autoComplete="email"
        inputMode="email"
        required
        {...form.field("new_email")}
      />
    </ChangeRequestForm>
  );
}

/**
 * "Zmień numer telefonu": current password + new number, then the code from the SMS. Sending the
 * code again repeats the request (a new code replaces the previous one).
 */
export function ChangePhone({ onChanged }: { onChanged: () => void }) {
  const { t } = useI18n();
  const [sentTo, setSentTo] = useState<string | null>(null);
  const [resent, setResent] = useState(false);
  const [resending, setResending] = useState(false);
  const request = useForm(
    { new_phone: "", current_password: "" },
    async (values) => {
      const phone = values.new_phone.trim();
      await identityApi.requestPhoneChange(phone, values.current_password);
      setResent(false);
      setSentTo(phone);
    },
    { validate: (values) => phoneChangeErrors(values, t) },
  );
  const confirm = useForm(
    { code: "" },
    async (values) => {
      await identityApi.confirmPhoneChange(values.code.trim());
      onChanged();
    },
    {
      codeFields: { contact_change_code_invalid: "code" },
      validate: (values) => codeErrors(values.code, t),
    },
  );
  const { formRef: codeFormRef, setValues: setCode, setErrors: setCodeErrors } = confirm;
  useEffect(() => {
    if (sentTo) focusField(codeFormRef.current, "code");
  }, [sentTo, codeFormRef]);

  const resend = async () => {
    if (resending) return;
    setResending(true);
    try {
      await identityApi.requestPhoneChange(request.values.new_phone.trim(), request.values.current_password);
      setResent(true);
      setCode({ code: "" });
      setCodeErrors({}, null);
      focusField(codeFormRef.current, "code");
    } catch (error) {
      setCodeErrors({}, toFormErrors(error, t, { known: [] }).form);
    } finally {
      setResending(false);
    }
  };

  if (sentTo) {
    return (
      <Form
        form={confirm}
        intro={<Alert tone="success">{t(resent ? "contact.code_resent" : "contact.code_sent", { phone: sentTo })}</Alert>}
      >
        <TextField
          label={t("contact.code")}
          hint={t("contact.code_hint")}
          autoComplete="one-time-code"
          inputMode="numeric"
          required
          {...confirm.field("code")}
        />
        <div className="form-actions">
          <button type="button" className="button button--link" onClick={() => setSentTo(null)}>
            {t("contact.other_number")}
          </button>
          <button type="button" className="button button--secondary" onClick={resend} disabled={resending}>
            {resending ? t("common.wait") : t("contact.resend_code")}
          </button>
          <SubmitButton form={confirm}>{t("contact.confirm_code")}</SubmitButton>
        </div>
      </Form>
    );
  }
  return (
    <ChangeRequestForm form={request} intro={t("contact.phone_intro")} submit={t("contact.send_code")}>
      <TextField
        label={t("contact.new_phone")}
        hint={t("contact.new_phone_hint")}
        type="tel"
        autoComplete="tel"
        required
        {...request.field("new_phone")}
      />
    </ChangeRequestForm>
  );
}

/** Only an answer that never arrived (lost connection, 5xx, too many requests) may be asked again. */
const confirmOnce = oncePerToken(identityApi.confirmEmailChange, unanswered);

/** No verdict on the link yet: the request may be tried again. */
function unanswered(error: unknown): error is ApiError {
  return isRetryable(error) || (error instanceof ApiError && error.status === 429);
}

/** The page of the link e-mailed to the new address: `/potwierdz-email#token=…`. */
export function LoginEmailConfirmationPage() {
  const { t } = useI18n();
  const { status, reloadMe } = useSession();
  const token = useLinkToken();
  const [attempt, setAttempt] = useState(0);
  const result = useApi(() => confirmOnce(token), [token, attempt]);
  // The session that asked for the change goes on (every other one ended): what it shows of the
  // person is read again, so the new address appears; an ended session lands on the login page.
  const reloaded = useRef(false);
  useEffect(() => {
    if (result.data && status === "authenticated" && !reloaded.current) {
      reloaded.current = true;
      reloadMe().catch(() => undefined);
    }
  }, [result.data, status, reloadMe]);

  const error = result.error;
  const next = status === "authenticated" ? "/profil" : "/logowanie";
  const nextLabel = status === "authenticated" ? t("contact.go_to_profile") : t("login.submit");
  return (
    <>
      <PageTitle>{t("contact.confirm_title")}</PageTitle>
      {result.loading ? null : unanswered(error) ? (
        <div className="alert alert--error" role="alert">
          <p>{problemMessage(error.problem, error.status, t)}</p>
          <button type="button" className="button button--secondary" onClick={() => setAttempt((value) => value + 1)}>
            {t("common.retry")}
          </button>
        </div>
      ) : error ? (
        <>
          <Alert tone="error">{t("contact.link_invalid")}</Alert>
          <p>{t("contact.link_invalid_next")}</p>
          <p>
            <Link className="button button--primary" to={next}>
              {nextLabel}
            </Link>
          </p>
        </>
      ) : (
        <>
          <Alert tone="success">{t("contact.email_changed")}</Alert>
          <p>{t("contact.email_changed_next")}</p>
          <p>
            <Link className="button button--primary" to={next}>
              {nextLabel}
            </Link>
          </p>
        </>
      )}
    </>
  );
}
