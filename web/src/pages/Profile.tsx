import { useState } from "react";
import { identityApi } from "../api/identity";
import { oncePerToken } from "../api/oncePerToken";
import { profileApi, type Address, type Profile } from "../api/profile";
import { useSession } from "../auth/session";
import { EInvoiceCard } from "../components/EInvoice";
import { Alert, Async, Dialog, Form, PageTitle, SelectField, SubmitButton, TextField } from "../components/ui";
import { useApi, useCatchUp } from "../components/useApi";
import { useForm } from "../components/useForm";
import { useLinkToken } from "../components/useLinkToken";
import { useI18n } from "../i18n";
import { ChangeLoginEmail, ChangePhone } from "./LoginContact";

function addressLines(address: Address | null | undefined): string[] {
  if (!address) return [];
  const street = `${address.street} ${address.building}${address.apartment ? `/${address.apartment}` : ""}`;
  return [street, `${address.postal_code} ${address.city}`, address.country !== "PL" ? address.country : ""].filter(Boolean);
}

const blank = (value: string) => (value.trim() ? value.trim() : null);

type Done = (message: string, update: (profile: Profile) => Profile) => void;

function CompanyEdit({ profile, onDone }: { profile: Profile; onDone: Done }) {
  const { t } = useI18n();
  const contact = profile.client.contact;
  const address = contact?.correspondence_address;
  const form = useForm(
    {
      "correspondence_address.street": address?.street ?? "",
      "correspondence_address.building": address?.building ?? "",
      "correspondence_address.apartment": address?.apartment ?? "",
      "correspondence_address.postal_code": address?.postal_code ?? "",
      "correspondence_address.city": address?.city ?? "",
      "correspondence_address.country": address?.country ?? "PL",
      phone: contact?.phone ?? "",
      email: contact?.email ?? "",
    },
    async (values) => {
      const street = values["correspondence_address.street"].trim();
      const hasAddress =
        street ||
        values["correspondence_address.building"].trim() ||
        values["correspondence_address.postal_code"].trim() ||
        values["correspondence_address.city"].trim();
      const saved = await profileApi.changeCompanyContact({
        correspondence_address: hasAddress
          ? {
              street,
              building: values["correspondence_address.building"].trim(),
              apartment: blank(values["correspondence_address.apartment"]),
              postal_code: values["correspondence_address.postal_code"].trim(),
              city: values["correspondence_address.city"].trim(),
              country: values["correspondence_address.country"],
            }
          : null,
        phone: blank(values.phone),
        email: blank(values.email),
      });
      onDone(t("common.saved"), (current) => ({ ...current, client: { ...current.client, contact: saved.contact } }));
    },
  );
  const field = (name: keyof typeof form.values, label: string, extra: Record<string, unknown> = {}) => (
    <TextField label={label} {...form.field(name)} {...extra} />
  );
  return (
    <Form form={form}>
      <fieldset className="fieldset">
        <legend>{t("profile.correspondence")}</legend>
        {field("correspondence_address.street", t("profile.street"), { autoComplete: "address-line1" })}
        <div className="form-grid">
          {field("correspondence_address.building", t("profile.building"))}
          {field("correspondence_address.apartment", t("profile.apartment"))}
        </div>
        <div className="form-grid">
          {field("correspondence_address.postal_code", t("profile.postal_code"), { autoComplete: "postal-code" })}
          {field("correspondence_address.city", t("profile.city"), { autoComplete: "address-level2" })}
        </div>
        <SelectField
          label={t("profile.country")}
          options={["PL", "DE", "CZ", "SK", "LT", "UA", "AT", "FR", "NL", "GB"].map((code) => ({ value: code, label: code }))}
          {...form.field("correspondence_address.country")}
        />
      </fieldset>
      {field("phone", t("profile.phone"), { type: "tel", autoComplete: "tel" })}
      {field("email", t("profile.email"), { type: "email", autoComplete: "email" })}
      <div className="form-actions">
        <SubmitButton form={form}>{t("common.save")}</SubmitButton>
      </div>
    </Form>
  );
}

function PersonEdit({ profile, onDone }: { profile: Profile; onDone: Done }) {
  const { t } = useI18n();
  const contact = profile.person.contact;
  const form = useForm(
    {
      work_email: contact.work_email ?? "",
      work_phone: contact.work_phone ?? "",
      position: contact.position ?? "",
      department: contact.department ?? "",
    },
    async (values) => {
      const saved = await profileApi.changeMyContact({
        work_email: blank(values.work_email),
        work_phone: blank(values.work_phone),
        position: blank(values.position),
        department: blank(values.department),
      });
      onDone(t("common.saved"), (current) => ({ ...current, person: { ...current.person, contact: saved.contact } }));
    },
  );
  return (
    <Form form={form}>
      <TextField label={t("profile.work_email")} type="email" autoComplete="email" {...form.field("work_email")} />
      <TextField label={t("profile.work_phone")} type="tel" autoComplete="tel" {...form.field("work_phone")} />
      <TextField label={t("profile.position")} {...form.field("position")} />
      <TextField label={t("profile.department")} {...form.field("department")} />
      <div className="form-actions">
        <SubmitButton form={form}>{t("common.save")}</SubmitButton>
      </div>
    </Form>
  );
}

type Window = "company" | "person" | "login_email" | "phone" | null;

export function ProfilePage() {
  const { t, lang } = useI18n();
  const { me } = useSession();
  const profile = useApi((signal) => profileApi.profile(signal), [me?.client.client_id]);
  // The login e-mail and the SMS phone belong to identity: read from it, so a change shows here.
  const login = useApi((signal) => identityApi.me(signal), [me?.account_id]);
  const [replacedPhone, setReplacedPhone] = useState<string | null>(null);
  useCatchUp(login, (data) => replacedPhone !== null && data.phone === replacedPhone);
  const [open, setOpen] = useState<Window>(null);
  const [notice, setNotice] = useState<string | null>(null);
  // The command's answer is the truth right away; the read model behind GET /me follows a moment later.
  const done: Done = (message, update) => {
    setOpen(null);
    setNotice(message);
    if (profile.data) profile.setData(update(profile.data));
  };
  // This session goes on (every other one of the person ended): it reads the new number once
  // identity's read model has it.
  const phoneChanged = () => {
    setOpen(null);
    setNotice(t("contact.phone_changed"));
    setReplacedPhone(login.data?.phone ?? me?.phone ?? null);
    login.reload();
  };
  return (
    <>
      <PageTitle>{t("profile.title")}</PageTitle>
      {notice ? <Alert tone="success">{notice}</Alert> : null}
      <Async state={profile}>
        {(data) => {
          const company = data.client;
          const contact = company.contact;
          const person = data.person;
          const einvoice = data.einvoice;
          const loginEmail = login.data?.email ?? me?.email ?? person.email ?? null;
          const smsPhone = login.data?.phone ?? me?.phone ?? person.phone ?? null;
          const edit = (which: Window, label: string) =>
            data.may_edit ? (
              <button
                type="button"
                className="button button--secondary button--small"
                aria-label={`${t("common.edit")}: ${label}`}
                onClick={() => setOpen(which)}
              >
                {t("common.edit")}
              </button>
            ) : null;
          return (
            <>
              <div className="grid">
                <section className="card" aria-labelledby="profile-company">
                  <div className="card__head">
                    <h2 id="profile-company">{t("profile.company")}</h2>
                    {edit("company", t("profile.company"))}
                  </div>
                  <dl className="facts">
                    <dt>{t("profile.company_name")}</dt>
                    <dd>{company.name ?? "—"}</dd>
                    <dt>{t("profile.nip")}</dt>
                    <dd>{company.nip ?? "—"}</dd>
                    <dt>{t("profile.correspondence")}</dt>
                    <dd>
                      {addressLines(contact?.correspondence_address).length
                        ? addressLines(contact?.correspondence_address).map((line) => <div key={line}>{line}</div>)
                        : "—"}
                    </dd>
                    <dt>{t("profile.phone")}</dt>
                    <dd>{contact?.phone ?? "—"}</dd>
                    <dt>{t("profile.email")}</dt>
                    <dd>{contact?.email ?? "—"}</dd>
                  </dl>
                </section>
                <section className="card" aria-labelledby="profile-person">
                  <div className="card__head">
                    <h2 id="profile-person">{t("profile.person")}</h2>
                    {edit("person", t("profile.person"))}
                  </div>
                  <dl className="facts">
                    <dt>{t("profile.first_name")}</dt>
                    <dd>{person.first_name ?? me?.first_name ?? "—"}</dd>
                    <dt>{t("profile.last_name")}</dt>
                    <dd>{person.last_name ?? me?.last_name ?? "—"}</dd>
                    <dt>{t("profile.login_email")}</dt>
                    <dd data-testid="login-email">{loginEmail ?? "—"}</dd>
                    <dt>{t("profile.sms_phone")}</dt>
                    <dd data-testid="sms-phone">{smsPhone ?? "—"}</dd>
                    <dt>{t("profile.work_email")}</dt>
                    <dd>{person.contact.work_email ?? "—"}</dd>
                    <dt>{t("profile.work_phone")}</dt>
                    <dd>{person.contact.work_phone ?? "—"}</dd>
                    <dt>{t("profile.position")}</dt>
                    <dd>{person.contact.position ?? "—"}</dd>
                    <dt>{t("profile.department")}</dt>
                    <dd>{person.contact.department ?? "—"}</dd>
                  </dl>
                  <p className="muted small">{person.login_contact.note[lang]}</p>
                  <div className="actions__row">
                    <button
                      type="button"
                      className="button button--secondary button--small"
                      onClick={() => setOpen("login_email")}
                    >
                      {t("contact.change_email")}
                    </button>
                    <button
                      type="button"
                      className="button button--secondary button--small"
                      onClick={() => setOpen("phone")}
                    >
                      {t("contact.change_phone")}
                    </button>
                  </div>
                </section>
                <EInvoiceCard
                  einvoice={einvoice}
                  mayEdit={data.may_edit}
                  onSaved={(message, next) => done(message, (current) => ({ ...current, einvoice: next }))}
                />
              </div>
              {data.may_edit ? null : <p className="muted">{t("profile.no_edit")}</p>}
              <Dialog open={open === "company"} title={t("profile.edit_company")} onClose={() => setOpen(null)}>
                <CompanyEdit profile={data} onDone={done} />
              </Dialog>
              <Dialog open={open === "person"} title={t("profile.edit_person")} onClose={() => setOpen(null)}>
                <PersonEdit profile={data} onDone={done} />
              </Dialog>
              <Dialog open={open === "login_email"} title={t("contact.change_email")} onClose={() => setOpen(null)}>
                <ChangeLoginEmail current={loginEmail} onClose={() => setOpen(null)} />
              </Dialog>
              <Dialog open={open === "phone"} title={t("contact.change_phone")} onClose={() => setOpen(null)}>
                <ChangePhone onChanged={phoneChanged} />
              </Dialog>
            </>
          );
        }}
      </Async>
    </>
  );
}

const confirmOnce = oncePerToken(profileApi.confirmEInvoice);

/** The page of the e-mailed link confirming an e-invoice address; the token is in the URL fragment. */
export function EInvoiceConfirmationPage() {
  const { t } = useI18n();
  const token = useLinkToken();
  const result = useApi(() => confirmOnce(token), [token]);
  return (
    <>
      <PageTitle>{t("profile.einvoice_confirm_title")}</PageTitle>
      {result.loading ? null : result.error ? (
        <Alert tone="error">{t("profile.einvoice_confirm_failed")}</Alert>
      ) : (
        <Alert tone="success">{t("profile.einvoice_confirmed", { email: result.data?.email ?? "" })}</Alert>
      )}
    </>
  );
}
