import { useRef, useState } from "react";
import { Link } from "react-router";
import { identityApi } from "../api/identity";
import { PublicLayout } from "../components/Layout";
import { Alert, Form, SubmitButton, TextField } from "../components/ui";
import { useForm } from "../components/useForm";
import { useLinkToken } from "../components/useLinkToken";
import { useI18n } from "../i18n";

type Step = "email" | "code" | "sent";

function Steps({ step }: { step: Step }) {
  const { t } = useI18n();
  const steps: Array<[Step, string]> = [
    ["email", t("activation.step_email")],
    ["code", t("activation.step_code")],
    ["sent", t("activation.step_link")],
  ];
  const current = steps.findIndex(([key]) => key === step);
  return (
    <ol className="steps" aria-label={t("activation.steps")}>
      {steps.map(([key, label], index) => (
        <li
          key={key}
          className={`steps__item${index === current ? " is-current" : ""}${index < current ? " is-done" : ""}`}
          aria-current={index === current ? "step" : undefined}
        >
          <span className="steps__number" aria-hidden="true">
            {index + 1}
          </span>
          {label}
        </li>
      ))}
    </ol>
  );
}

function Help() {
  const { t } = useI18n();
  return (
    <div className="help">
      <p>
        <strong>{t("activation.important")}</strong> {t("activation.link_validity")}
      </p>
      <p>
        {t("activation.problems")} <a href="tel:+48327456456">32 745 64 56</a> {t("common.or")}{" "}
        <a href="mailto:dok@aliorleasing.pl">dok@aliorleasing.pl</a>
      </p>
    </div>
  );
}

/** Activation, steps 1-3: e-mail -> the SMS code in the "hasło" field -> "the link was sent". */
function ActivationSteps() {
  const { t } = useI18n();
  const [step, setStep] = useState<Step>("email");
  const heading = useRef<HTMLHeadingElement>(null);
  const go = (next: Step) => {
    setStep(next);
    requestAnimationFrame(() => heading.current?.focus());
  };
  const emailForm = useForm({ email: "" }, async (values) => {
    await identityApi.startActivation(values.email.trim());
    go("code");
  });
  const codeForm = useForm(
    { code: "" },
    async (values) => {
      await identityApi.verifyCode(emailForm.values.email.trim(), values.code.trim());
      go("sent");
    },
    { codeFields: { activation_code_invalid: "code" } },
  );
  return (
    <section className="card card--form" aria-labelledby="activation-title">
      <h1 id="activation-title" ref={heading} data-page-title tabIndex={-1}>
        {t("activation.title")}
      </h1>
      <Steps step={step} />
      {step === "email" ? (
        <Form form={emailForm} intro={<p>{t("activation.email_intro")}</p>}>
          <TextField
            label={t("activation.email")}
            hint={t("activation.email_hint")}
            type="email"
            autoComplete="email"
            inputMode="email"
            required
            {...emailForm.field("email")}
          />
          <SubmitButton form={emailForm} block>
            {t("activation.send_code")}
          </SubmitButton>
        </Form>
      ) : null}
      {step === "code" ? (
        <Form form={codeForm} intro={<Alert tone="success">{t("activation.code_sent")}</Alert>}>
          <TextField
            label={t("activation.code")}
            hint={t("activation.code_hint")}
            type="password"
            autoComplete="one-time-code"
            inputMode="numeric"
            required
            {...codeForm.field("code")}
          />
          <SubmitButton form={codeForm} block>
            {t("activation.verify")}
          </SubmitButton>
          <button type="button" className="button button--link" onClick={() => go("email")}>
            {t("activation.back_to_email")}
          </button>
        </Form>
      ) : null}
      {step === "sent" ? (
        <div>
          <Alert tone="success">{t("activation.link_sent", { email: emailForm.values.email.trim() })}</Alert>
          <p>{t("activation.link_next")}</p>
        </div>
      ) : null}
      <Help />
      <p className="card__footer">
        {t("activation.have_account")} <Link to="/logowanie">{t("login.submit")}</Link>
      </p>
    </section>
  );
}

/** Step 5: the page of the e-mailed link: the person sets its own password. */
function SetPassword({ token }: { token: string }) {
  const { t } = useI18n();
  const [done, setDone] = useState(false);
  const form = useForm(
    { password: "", confirm: "" },
    async (values) => {
      await identityApi.completeActivation(token, values.password);
      setDone(true);
    },
    {
      aliases: { new_password: "password" },
      validate: (values): Record<string, string> => {
        if (!values.password) return { password: t("problem.missing") };
        if (values.password !== values.confirm) return { confirm: t("activation.passwords_differ") };
        return {};
      },
    },
  );
  return (
    <section className="card card--form" aria-labelledby="password-title">
      <h1 id="password-title" data-page-title tabIndex={-1}>
        {t("activation.password_title")}
      </h1>
      {done ? (
        <>
          <Alert tone="success">{t("activation.done")}</Alert>
          <p>
            <Link className="button button--primary" to="/logowanie">
              {t("login.submit")}
            </Link>
          </p>
        </>
      ) : (
        <Form form={form} intro={<p>{t("activation.password_intro")}</p>}>
          <TextField
            label={t("activation.new_password")}
            hint={t("activation.password_rules")}
            type="password"
            autoComplete="new-password"
            required
            {...form.field("password")}
          />
          <TextField
            label={t("activation.confirm_password")}
            type="password"
            autoComplete="new-password"
            required
            {...form.field("confirm")}
          />
          <SubmitButton form={form} block>
            {t("activation.set_password")}
          </SubmitButton>
        </Form>
      )}
      <Help />
    </section>
  );
}

/** Steps 1-3 at `/aktywacja`; step 5 at the e-mailed link, `/aktywacja#token=…`. */
export function ActivationPage() {
  const token = useLinkToken();
  return <PublicLayout>{token ? <SetPassword token={token} /> : <ActivationSteps />}</PublicLayout>;
}
