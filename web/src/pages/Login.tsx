import { Link, Navigate, useLocation, useNavigate } from "react-router";
import { useSession } from "../auth/session";
import { PublicLayout } from "../components/Layout";
import { Alert, Form, SubmitButton, TextField } from "../components/ui";
import { useForm } from "../components/useForm";
import { useI18n } from "../i18n";

export function LoginPage() {
  const { t } = useI18n();
  const { status, login, expired } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const from = (location.state as { from?: string } | null)?.from ?? "/";
  const form = useForm({ email: "", password: "" }, async (values) => {
    await login(values.email.trim(), values.password);
    navigate(from, { replace: true });
  }, {
    validate: (values) => {
      const errors: Record<string, string> = {};
      if (!values.email.trim()) errors.email = t("problem.missing");
      if (!values.password) errors.password = t("problem.missing");
      return errors;
    },
  });
  if (status === "authenticated") return <Navigate to={from} replace />;
  return (
    <PublicLayout>
      <section className="card card--form" aria-labelledby="login-title">
        <h1 id="login-title" data-page-title tabIndex={-1}>
          {t("login.title")}
        </h1>
        {expired ? <Alert tone="warning">{t("login.expired")}</Alert> : null}
        <Form form={form}>
          <TextField
            label={t("login.email")}
            hint={t("login.email_hint")}
            type="email"
            autoComplete="username"
            inputMode="email"
            required
            {...form.field("email")}
          />
          <TextField
            label={t("login.password")}
            hint={t("login.password_hint")}
            type="password"
            autoComplete="current-password"
            required
            {...form.field("password")}
          />
          <SubmitButton form={form} block>
            {t("login.submit")}
          </SubmitButton>
        </Form>
        <p className="card__footer">
          {t("login.no_account")} <Link to="/aktywacja">{t("login.activate")}</Link>
        </p>
      </section>
    </PublicLayout>
  );
}
