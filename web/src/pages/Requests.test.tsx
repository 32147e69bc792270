import { act, fireEvent, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { answer, callsTo, installFakeApi, json, loggedIn, ME, page, problem } from "../testing/fakeApi";
import { click, messagesOf, type } from "../testing/forms";
import { RequestsPage } from "./Requests";

installFakeApi();

const FILER = { ...ME, scopes: ["requests:create"] };

const DUPLICATE = {
  type: "duplicate_invoice",
  version: 1,
  title: { pl: "Duplikat faktury", en: "Duplicate invoice" },
  description: { pl: "Prośba o wystawienie duplikatu faktury.", en: "A request for a duplicate of an invoice." },
  form_schema: {
    properties: {
      invoice_number: { type: "string", minLength: 1, maxLength: 64, title: "Numer faktury" },
      contact_email: { type: "string", format: "email", maxLength: 200, title: "E-mail do odpowiedzi" },
      countries: { type: "array", items: { type: "string", pattern: "^[A-Z]{2}$" }, title: "Kraje wyjazdu" },
      reason: { type: "string", maxLength: 500, title: "Powód" },
      delivery: {
        type: "string",
        enum: ["email", "post"],
        "x-enum-titles": { pl: ["E-mailem", "Pocztą"], en: ["By e-mail", "By post"] },
        title: "Sposób doręczenia",
      },
    },
    required: ["invoice_number", "delivery"],
  },
  attachments: { min: 0, max: 3, max_bytes: 5_242_880, content_types: ["application/pdf", "image/jpeg", "image/png"] },
};

async function openForm() {
  loggedIn(FILER);
  answer("GET /api/profile/requests/catalogue", json(200, [DUPLICATE]));
  page(<RequestsPage />, "/wnioski");
  const file = await screen.findByRole("button", { name: "Złóż wniosek: Duplikat faktury" });
  await act(async () => {
    fireEvent.click(file);
  });
  return (await screen.findByRole("heading", { name: "Złóż wniosek: Duplikat faktury" })).closest("section") as HTMLElement;
}

function fill(form: HTMLElement) {
  type(form, /Numer faktury/, "FV/2026/11/0001");
  type(form, /E-mail do odpowiedzi/, "anna@transbud");
  type(form, /Kraje wyjazdu/, "DE, cz");
  type(form, /Powód/, "Oryginał zaginął w transporcie.");
  fireEvent.change(within(form).getByLabelText(/Sposób doręczenia/), { target: { value: "email" } });
  const scan = new File(["%PDF-1.4"], "zgloszenie.pdf", { type: "application/pdf" });
  fireEvent.change(within(form).getByLabelText(/^Załączniki/), { target: { files: [scan] } });
}

/** What the person typed, as the form shows it now. */
function typed(form: HTMLElement) {
  const value = (label: RegExp) => (within(form).getByLabelText(label) as HTMLInputElement).value;
  return {
    invoice: value(/Numer faktury/),
    email: value(/E-mail do odpowiedzi/),
    countries: value(/Kraje wyjazdu/),
    reason: value(/Powód/),
    delivery: value(/Sposób doręczenia/),
    attachments: within(form).queryAllByRole("button", { name: /^Usuń / }).map((button) => button.textContent),
  };
}

const TYPED = {
  invoice: "FV/2026/11/0001",
  email: "anna@transbud",
  countries: "DE, cz",
  reason: "Oryginał zaginął w transporcie.",
  delivery: "email",
  attachments: ["Usuń zgloszenie.pdf"],
};

describe("filing a request", () => {
  it("says plainly that the connection was lost or the service is down, and keeps everything typed and attached", async () => {
    const form = await openForm();
    fill(form);
    answer(
      "POST /api/profile/requests",
      new TypeError("Failed to fetch"),
      problem(503, { code: "temporarily_unavailable" }),
    );

    await click(form, "Wyślij wniosek");
    expect(within(form).getByRole("alert").textContent).toBe(
      "Brak połączenia z serwerem. Sprawdź połączenie z internetem i spróbuj ponownie — wpisane dane nie zostały utracone.",
    );
    expect(typed(form)).toEqual(TYPED);

    await click(form, "Wyślij wniosek");
    expect(within(form).getByRole("alert").textContent).toMatch(/^Usługa jest chwilowo niedostępna\. Spróbuj ponownie/);
    expect(typed(form)).toEqual(TYPED);
    expect(screen.getByRole("button", { name: "Wyślij wniosek" }).hasAttribute("disabled")).toBe(false);
    expect(callsTo("POST /api/profile/requests")).toHaveLength(2);
  });

  it("shows the API's field errors in Polish next to their fields, a list item's and an attachment's included", async () => {
    const form = await openForm();
    fill(form);
    answer(
      "POST /api/profile/requests",
      problem(422, {
        code: "validation_failed",
        errors: [
          { field: "attachments.0", code: "attachment_type_not_allowed", message: "not allowed" },
          { field: "data.contact_email", code: "format", message: "'anna@transbud' is not a 'email'" },
          { field: "data.countries.1", code: "pattern", message: "'cz' does not match '^[A-Z]{2}$'" },
        ],
      }),
      json(201, { request_id: "req-1", reference: "5A1B2C3D", status: "submitted" }),
    );

    await click(form, "Wyślij wniosek");
    expect(messagesOf(form, /E-mail do odpowiedzi/)).toEqual(["Podaj prawidłowy adres e-mail."]);
    expect(messagesOf(form, /Kraje wyjazdu/)).toEqual(["Wartość ma nieprawidłowy format."]);
    expect(messagesOf(form, /^Załączniki/)).toContain("Dozwolone są tylko pliki PDF, JPG i PNG.");
    expect(messagesOf(form, /Numer faktury/)).toEqual([]);
    expect(within(form).getByRole("alert").textContent).toBe("Popraw zaznaczone pola.");
    await act(async () => new Promise((resolve) => requestAnimationFrame(() => resolve(undefined))));
    expect(document.activeElement?.getAttribute("name")).toBe("data.contact_email");
    expect(typed(form)).toEqual(TYPED);

    type(form, /E-mail do odpowiedzi/, "anna@transbud.example.pl");
    expect(messagesOf(form, /E-mail do odpowiedzi/)).toEqual([]);
    expect(messagesOf(form, /Kraje wyjazdu/)).toEqual(["Wartość ma nieprawidłowy format."]);

    await click(form, "Wyślij wniosek");
    await screen.findByText("Wniosek 5A1B2C3D został złożony.");
    const sent = callsTo("POST /api/profile/requests").at(-1) as FormData;
    expect(sent.get("type")).toBe("duplicate_invoice");
    expect(JSON.parse(String(sent.get("data")))).toEqual({
      invoice_number: "FV/2026/11/0001",
      contact_email: "anna@transbud.example.pl",
      countries: ["DE", "CZ"],
      reason: "Oryginał zaginął w transporcie.",
      delivery: "email",
    });
    expect((sent.getAll("attachments") as File[]).map((file) => file.name)).toEqual(["zgloszenie.pdf"]);
  });
});
