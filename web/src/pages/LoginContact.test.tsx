import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { anonymous, answer, callsTo, installFakeApi, json, loggedIn, ME, page, problem } from "../testing/fakeApi";
import { click, messagesOf, type } from "../testing/forms";
import { LoginEmailConfirmationPage } from "./LoginContact";
import { ProfilePage } from "./Profile";

installFakeApi();

const PROFILE = {
  client: { client_id: "CL-1", name: "Transbud", nip: "5260250274", contact: null },
  person: {
    account_id: "acc-1",
    first_name: "Anna",
    last_name: "Kowalska",
    email: "anna@example.pl",
    phone: "+48601234567",
    login_contact: { editable_here: false, note: { pl: "Wymaga hasła.", en: "Needs the password." } },
    contact: { position: null, department: null, work_phone: null, work_email: null },
  },
  einvoice: { client_id: "CL-1", consent: false, email: null, pending: null, history: [] },
  may_edit: false,
};

async function openProfile() {
  loggedIn();
  answer("GET /api/profile/me", json(200, PROFILE));
  page(<ProfilePage />, "/profil");
  await screen.findByText("anna@example.pl");
}

async function openDialog(name: string) {
  fireEvent.click(screen.getByRole("button", { name }));
  return screen.findByRole("dialog", { name });
}

describe("changing the login e-mail", () => {
  it("checks the form first, shows identity's refusal next to the password, then says to check the inbox", async () => {
    await openProfile();
    const dialog = await openDialog("Zmień e-mail logowania");

    type(dialog, /Nowy adres e-mail/, "nie-adres");
    await click(dialog, "Wyślij link");
    expect(messagesOf(dialog, /Nowy adres e-mail/)).toContain("Podaj prawidłowy adres e-mail.");
    expect(messagesOf(dialog, /Obecne hasło/)).toContain("To pole jest wymagane.");
    type(dialog, /Nowy adres e-mail/, " Anna@Example.pl ");
    type(dialog, /Obecne hasło/, "cokolwiek");
    await click(dialog, "Wyślij link");
    expect(messagesOf(dialog, /Nowy adres e-mail/)).toContain("To jest Twój obecny e-mail logowania.");
    expect(callsTo("POST /api/identity/contact/email")).toEqual([]);

    type(dialog, /Nowy adres e-mail/, "anna.nowa@example.pl");
    type(dialog, /Obecne hasło/, "zle-haslo-123");
    answer(
      "POST /api/identity/contact/email",
      problem(403, {
        code: "current_password_wrong",
        errors: [{ field: "current_password", code: "current_password_wrong", message: "the current password is wrong" }],
      }),
      json(202, { status: "confirmation_sent" }),
    );
    await click(dialog, "Wyślij link");
    expect(within(dialog).getByLabelText(/Obecne hasło/).getAttribute("aria-invalid")).toBe("true");
    expect(messagesOf(dialog, /Obecne hasło/)).toContain("Obecne hasło jest nieprawidłowe.");
    expect((within(dialog).getByLabelText(/Nowy adres e-mail/) as HTMLInputElement).value).toBe("anna.nowa@example.pl");

    type(dialog, /Obecne hasło/, "Dobre-Haslo-2026!");
    await click(dialog, "Wyślij link");
    expect(callsTo("POST /api/identity/contact/email").at(-1)).toEqual({
      new_email: "anna.nowa@example.pl",
      current_password: "Dobre-Haslo-2026!",
    });
    within(dialog).getByText("Sprawdź skrzynkę: na adres anna.nowa@example.pl wysłaliśmy link potwierdzający.");
    expect(screen.getByTestId("login-email").textContent).toBe("anna@example.pl"); // nothing changes until confirmed
  });

  it("shows a refusal without a field (too many attempts) at the top of the form", async () => {
    await openProfile();
    const dialog = await openDialog("Zmień e-mail logowania");
    type(dialog, /Nowy adres e-mail/, "anna.nowa@example.pl");
    type(dialog, /Obecne hasło/, "zle-haslo-123");
    answer("POST /api/identity/contact/email", problem(429, { code: "too_many_attempts" }));
    await click(dialog, "Wyślij link");
    expect(within(dialog).getByRole("alert").textContent).toBe(
      "Zbyt wiele nieudanych prób. Odczekaj chwilę i spróbuj ponownie.",
    );
  });
});

describe("changing the phone for SMS codes", () => {
  it("asks for the code from the SMS, sends it again on request, and shows the new number once confirmed", async () => {
    await openProfile();
    const dialog = await openDialog("Zmień numer telefonu");

    type(dialog, /Nowy numer telefonu/, "12");
    type(dialog, /Obecne hasło/, "Dobre-Haslo-2026!");
    await click(dialog, "Wyślij kod");
    expect(messagesOf(dialog, /Nowy numer telefonu/)).toContain("Podaj prawidłowy numer telefonu.");
    expect(callsTo("POST /api/identity/contact/phone")).toEqual([]);

    type(dialog, /Nowy numer telefonu/, "100 200 300");
    answer(
      "POST /api/identity/contact/phone",
      problem(422, {
        code: "validation_failed",
        errors: [{ field: "new_phone", code: "value_error", message: "Value error, invalid phone number" }],
      }),
      json(202, { status: "confirmation_sent" }),
      problem(429, { code: "too_many_codes" }),
      json(202, { status: "confirmation_sent" }),
    );
    await click(dialog, "Wyślij kod");
    expect(messagesOf(dialog, /Nowy numer telefonu/)).toContain("Podaj prawidłowy numer telefonu.");

    type(dialog, /Nowy numer telefonu/, "602 345 678");
    await click(dialog, "Wyślij kod");
    within(dialog).getByText("Na numer 602 345 678 wysłaliśmy SMS z kodem. Kod jest ważny do północy dzisiejszego dnia.");

    type(dialog, /Kod z SMS/, "12345");
    await click(dialog, "Potwierdź");
    expect(messagesOf(dialog, /Kod z SMS/)).toContain("Kod z SMS składa się z 6 cyfr.");
    type(dialog, /Kod z SMS/, "000000");
    answer(
      "POST /api/identity/contact/phone/confirm",
      problem(400, { code: "contact_change_code_invalid" }),
      json(200, { status: "changed" }),
    );
    await click(dialog, "Potwierdź");
    expect(messagesOf(dialog, /Kod z SMS/)).toContain("Kod jest nieprawidłowy, wygasł lub został już użyty.");

    await click(dialog, "Wyślij kod ponownie");
    expect(within(dialog).getByRole("alert").textContent).toBe(
      "Wysłaliśmy dziś już zbyt wiele kodów. Spróbuj ponownie jutro.",
    );
    await click(dialog, "Wyślij kod ponownie");
    within(dialog).getByText("Na numer 602 345 678 wysłaliśmy nowy kod. Poprzedni kod jest już nieważny.");
    const sent = callsTo("POST /api/identity/contact/phone");
    expect(sent.at(-1)).toEqual({ new_phone: "602 345 678", current_password: "Dobre-Haslo-2026!" });
    expect(sent.at(-1)).toEqual(sent.at(-3)); // sending again repeats the request

    // Identity's read model follows a moment later: the page asks again until it has the new number.
    answer("GET /api/identity/me", json(200, ME), json(200, { ...ME, phone: "+48602345678" }));
    type(dialog, /Kod z SMS/, "123456");
    await click(dialog, "Potwierdź");
    expect(callsTo("POST /api/identity/contact/phone/confirm").at(-1)).toEqual({ code: "123456" });
    await screen.findByText(/Numer telefonu do kodów SMS został zmieniony\./);
    expect(screen.queryByRole("dialog")).toBeNull();
    await waitFor(() => expect(screen.getByTestId("sms-phone").textContent).toBe("+48602345678"), { timeout: 3000 });
  });
});

describe("the page of the link e-mailed to the new address", () => {
  /** The link as identity e-mails it: the token in the fragment, which never reaches a server. */
  function visit(token: string, link = `/potwierdz-email#token=${token}`) {
    window.history.replaceState(null, "", link);
    page(<LoginEmailConfirmationPage />, link);
  }

  it("posts the token once, takes it out of the address bar and says the new address is now the login", async () => {
    anonymous();
    answer("POST /api/identity/contact/email/confirm", json(200, { status: "changed" }));
    visit("acc-1.abc");
    await screen.findByText("E-mail logowania został zmieniony.");
    screen.getByText(/Od teraz logujesz się do Strefy Klienta nowym adresem e-mail\./);
    expect(window.location.href).toBe(`${window.location.origin}/potwierdz-email`);
    expect(callsTo("POST /api/identity/contact/email/confirm")).toEqual([{ token: "acc-1.abc" }]);
    expect(screen.getByRole("link", { name: "Zaloguj się" }).getAttribute("href")).toBe("/logowanie");
  });

  it("still confirms a link e-mailed with the token in the query, and takes it out of the address bar", async () => {
    anonymous();
    answer("POST /api/identity/contact/email/confirm", json(200, { status: "changed" }));
    visit("acc-1.older-link", "/potwierdz-email?token=acc-1.older-link");
    await screen.findByText("E-mail logowania został zmieniony.");
    expect(window.location.href).toBe(`${window.location.origin}/potwierdz-email`);
    expect(callsTo("POST /api/identity/contact/email/confirm")).toEqual([{ token: "acc-1.older-link" }]);
  });

  it("in the browser of the session that asked, reads the person again and leads to the profile", async () => {
    loggedIn();
    answer("POST /api/identity/contact/email/confirm", json(200, { status: "changed" }));
    visit("acc-1.same-browser");
    await screen.findByText("E-mail logowania został zmieniony.");
    await screen.findByRole("link", { name: "Przejdź do zakładki „Mój profil”" });
    await waitFor(() => expect(callsTo("GET /api/identity/me").length).toBe(2));
  });

  it("says plainly that an expired or used link changed nothing", async () => {
    anonymous();
    answer("POST /api/identity/contact/email/confirm", problem(400, { code: "contact_change_link_invalid" }));
    visit("acc-1.used");
    await screen.findByText(
      "Link jest nieprawidłowy, wygasł, został zastąpiony nowszym lub został już użyty. E-mail logowania nie został zmieniony.",
    );
    expect(window.location.hash).toBe("");
  });

  it("offers to try again when the answer never came", async () => {
    anonymous();
    answer("POST /api/identity/contact/email/confirm", new TypeError("Failed to fetch"), json(200, { status: "changed" }));
    visit("acc-1.offline");
    await screen.findByText(/Brak połączenia z serwerem/);
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Spróbuj ponownie" }));
    });
    await screen.findByText("E-mail logowania został zmieniony.");
    expect(callsTo("POST /api/identity/contact/email/confirm")).toEqual([
      { token: "acc-1.offline" },
      { token: "acc-1.offline" },
    ]);
  });
});
