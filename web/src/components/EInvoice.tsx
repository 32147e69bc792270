import { useId, useState } from "react";
import { profileApi, type EInvoice } from "../api/profile";
import { useI18n } from "../i18n";
import { Alert, DateText, Dialog, Form, SubmitButton, TextField } from "./ui";
import { useForm } from "./useForm";

/** The e-invoice address window: consent at an address, or a new address; both confirmed by an e-mailed link. */
function EInvoiceEdit({ einvoice, onSaved }: { einvoice: EInvoice; onSaved: (message: string, einvoice: EInvoice) => void }) {
  const { t } = useI18n();
  const form = useForm({ email: einvoice.pending?.email ?? einvoice.email ?? "" }, async (values) => {
    const email = values.email.trim();
    const result = einvoice.consent ? await profileApi.changeEInvoiceEmail(email) : await profileApi.giveConsent(email);
    onSaved(result.pending ? t("profile.einvoice_link_sent", { email }) : t("common.saved"), {
      ...einvoice,
      consent: result.consent,
      email: result.email,
      pending: result.pending,
    });
  });
  return (
    <Form
      form={form}
      intro={<p>{einvoice.consent ? t("profile.einvoice_change_intro") : t("profile.einvoice_consent_intro")}</p>}
    >
      <TextField
        label={t("profile.einvoice_email")}
        type="email"
        autoComplete="email"
        required
        {...form.field("email")}
      />
      <div className="form-actions">
        <SubmitButton form={form}>
          {einvoice.consent ? t("common.save") : t("profile.einvoice_give_consent")}
        </SubmitButton>
      </div>
    </Form>
  );
}

/**
 * The e-invoice service card (Mój profil, Dodawanie subkonta): whether it is on, its address, a
 * pending confirmation, and the window editing the address for those who may edit the profile.
 */
export function EInvoiceCard({
  einvoice,
  mayEdit,
  onSaved,
}: {
  einvoice: EInvoice;
  mayEdit: boolean;
  /** The command's answer is the truth right away (the read model follows a moment later). */
  onSaved: (message: string, einvoice: EInvoice) => void;
}) {
  const { t } = useI18n();
  const titleId = useId();
  const [open, setOpen] = useState(false);
  return (
    <section className="card" aria-labelledby={titleId}>
      <div className="card__head">
        <h2 id={titleId}>{t("profile.einvoice")}</h2>
        {mayEdit ? (
          <button
            type="button"
            className="button button--secondary button--small"
            aria-label={`${t("common.edit")}: ${t("profile.einvoice")}`}
            onClick={() => setOpen(true)}
          >
            {t("common.edit")}
          </button>
        ) : null}
      </div>
      <p>{einvoice.consent ? t("profile.einvoice_active") : t("profile.einvoice_inactive")}</p>
      <dl className="facts">
        <dt>{t("profile.einvoice_email")}</dt>
        <dd data-testid="einvoice-email">{einvoice.email ?? "—"}</dd>
        {einvoice.consent_given?.at ? (
          <>
            <dt>{t("profile.einvoice_since")}</dt>
            <dd>
              <DateText value={einvoice.consent_given.at} />
            </dd>
          </>
        ) : null}
      </dl>
      {einvoice.pending ? (
        <Alert tone="info">{t("profile.einvoice_pending", { email: einvoice.pending.email })}</Alert>
      ) : null}
      <Dialog open={open} title={t("profile.edit_einvoice")} onClose={() => setOpen(false)}>
        <EInvoiceEdit
          einvoice={einvoice}
          onSaved={(message, next) => {
            setOpen(false);
            onSaved(message, next);
          }}
        />
      </Dialog>
    </section>
  );
}
