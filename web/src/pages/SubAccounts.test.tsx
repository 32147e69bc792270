import { act, fireEvent, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { answer, callsTo, installFakeApi, json, loggedIn, ME, page, problem } from "../testing/fakeApi";
import { click, messagesOf, type } from "../testing/forms";
import { SubAccountsPage } from "./SubAccounts";

installFakeApi();

const MANAGER = { ...ME, scopes: ["subaccounts:manage", "profile:read", "profile:edit"] };

const SCOPES = [
  { scope: "profile:read", label_pl: "Mój profil (podgląd)", label_en: "My profile (view)" },
  { scope: "profile:edit", label_pl: "Mój profil (edycja)", label_en: "My profile (edit)" },
];

const ACTIVE = {
  client_id: "CL-1",
  consent: true,
  email: "faktury@transbud.example.pl",
  pending: null,
  consent_given: { by: "Anna Kowalska", at: "2026-03-02T09:15:00+00:00" },
  history: [],
};

async function openSubAccounts(me = MANAGER, einvoice: object = ACTIVE) {
  loggedIn(me);
  answer("GET /api/identity/scopes", json(200, SCOPES));
  answer("GET /api/identity/subaccounts", json(200, []));
  answer("GET /api/profile/einvoice", json(200, einvoice));
  page(<SubAccountsPage />, "/subkonta");
  await screen.findByRole("heading", { level: 1, name: "Subkonta" });
}

async function einvoiceCard() {
  return (await screen.findByRole("heading", { name: "E-faktura" })).closest("section") as HTMLElement;
}

async function openWindow() {
  const edit = await screen.findByRole("button", { name: "Edytuj: E-faktura" });
  await act(async () => {
    fireEvent.click(edit);
  });
  return screen.findByRole("dialog", { name: "Edycja e-maila dla e-faktury" });
}

describe("the e-invoice service on the sub-account page", () => {
  it("shows the client's e-invoice address beside the new sub-account's form", async () => {
    await openSubAccounts();
    const card = await einvoiceCard();
    within(card).getByText("Usługa e-faktura jest aktywna.");
    expect(within(card).getByTestId("einvoice-email").textContent).toBe("faktury@transbud.example.pl");
    within(card).getByText("02.03.2026");
    screen.getByRole("heading", { name: "Dodaj subkonto" });
  });

  it("edits the address in the profile's window: a refusal next to the field, a lost connection said plainly, then the link", async () => {
    await openSubAccounts();
    const dialog = await openWindow();
    within(dialog).getByText("Na nowy adres wyślemy link potwierdzający. Adres zmieni się po jego potwierdzeniu.");

    type(dialog, /E-mail do e-faktury/, "ksiegowosc@transbud");
    answer(
      "PUT /api/profile/einvoice/email",
      problem(422, {
        code: "validation_failed",
        errors: [{ field: "email", code: "value_error", message: "value is not a valid email address" }],
      }),
      new TypeError("Failed to fetch"),
      json(202, {
        client_id: "CL-1",
        consent: true,
        email: "faktury@transbud.example.pl",
        pending: { purpose: "email_change", email: "ksiegowosc@transbud.example.pl", expires_at: "2026-12-01T00:00:00+01:00" },
      }),
    );
    await click(dialog, "Zapisz");
    expect(messagesOf(dialog, /E-mail do e-faktury/)).toContain("Podaj prawidłowy adres e-mail.");

    type(dialog, /E-mail do e-faktury/, "ksiegowosc@transbud.example.pl");
    await click(dialog, "Zapisz");
    expect(within(dialog).getByRole("alert").textContent).toMatch(/^Brak połączenia z serwerem\./);
    expect((within(dialog).getByLabelText(/E-mail do e-faktury/) as HTMLInputElement).value).toBe(
      "ksiegowosc@transbud.example.pl",
    );

    await click(dialog, "Zapisz");
    expect(callsTo("PUT /api/profile/einvoice/email")).toEqual([
      { email: "ksiegowosc@transbud" },
      { email: "ksiegowosc@transbud.example.pl" },
      { email: "ksiegowosc@transbud.example.pl" },
    ]);
    expect(screen.queryByRole("dialog")).toBeNull();
    screen.getByText(
      "Na adres ksiegowosc@transbud.example.pl wysłaliśmy link potwierdzający. Zmiana zacznie obowiązywać po jego kliknięciu.",
    );
    const card = await einvoiceCard();
    within(card).getByText("Oczekuje na potwierdzenie adresu ksiegowosc@transbud.example.pl (link wysłany e-mailem).");
    expect(within(card).getByTestId("einvoice-email").textContent).toBe("faktury@transbud.example.pl");
  });

  it("turns the service on with the consent when it is off", async () => {
    await openSubAccounts(MANAGER, { client_id: "CL-1", consent: false, email: null, pending: null, history: [] });
    const card = await einvoiceCard();
    within(card).getByText("Usługa e-faktura nie jest aktywna.");
    const dialog = await openWindow();
    type(dialog, /E-mail do e-faktury/, "faktury@transbud.example.pl");
    answer("POST /api/profile/einvoice/consent", json(200, { client_id: "CL-1", consent: true, email: "faktury@transbud.example.pl", pending: null }));
    await click(dialog, "Włącz e-fakturę");
    expect(callsTo("POST /api/profile/einvoice/consent")).toEqual([{ email: "faktury@transbud.example.pl" }]);
    screen.getByText("Zmiany zostały zapisane.");
    within(card).getByText("Usługa e-faktura jest aktywna.");
  });

  it("offers no edit window without the right to edit the profile", async () => {
    await openSubAccounts({ ...MANAGER, scopes: ["subaccounts:manage", "profile:read"] });
    await screen.findByTestId("einvoice-email");
    expect(screen.queryByRole("button", { name: "Edytuj: E-faktura" })).toBeNull();
  });

  it("shows no e-invoice card to a manager who may not see the profile", async () => {
    await openSubAccounts({ ...MANAGER, scopes: ["subaccounts:manage"] });
    await screen.findByRole("heading", { name: "Dodaj subkonto" });
    expect(screen.queryByRole("heading", { name: "E-faktura" })).toBeNull();
    expect(callsTo("GET /api/profile/einvoice")).toEqual([]);
  });
});
