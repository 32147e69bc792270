import { describe, expect, it } from "vitest";
import { translate } from "../i18n";
import { ApiError, type Problem } from "./http";
import { fieldMessage, problemMessage, toFormErrors } from "./problem";

const t = (key: Parameters<typeof translate>[1], params?: Parameters<typeof translate>[2]) =>
  translate("pl", key, params);
const en = (key: Parameters<typeof translate>[1], params?: Parameters<typeof translate>[2]) =>
  translate("en", key, params);

function refusal(status: number, problem: Partial<Problem>): ApiError {
  return new ApiError(status >= 500 ? "server" : "client", status, { status, ...problem });
}

describe("field messages", () => {
  it("uses the Polish text for pydantic's codes, never the API's English", () => {
    expect(fieldMessage({ field: "email", message: "Field required", code: "missing" }, t)).toBe("To pole jest wymagane.");
    expect(
      fieldMessage({ field: "email", message: "value is not a valid email address", code: "value_error" }, t),
    ).toBe("Podaj prawidłowy adres e-mail.");
  });

  it("knows the kind of field from its (nested) name", () => {
    expect(fieldMessage({ field: "client.nip", message: "Value error, invalid NIP", code: "value_error" }, t)).toBe(
      "Podaj prawidłowy NIP (10 cyfr).",
    );
    expect(fieldMessage({ field: "contact_persons.0.phone", message: "x", code: "value_error" }, t)).toBe(
      "Podaj prawidłowy numer telefonu.",
    );
    expect(fieldMessage({ field: "correspondence_address.postal_code", message: "x", code: "value_error" }, t)).toBe(
      "Kod pocztowy ma format 00-000.",
    );
    expect(fieldMessage({ field: "code", message: "x", code: "string_pattern_mismatch" }, t)).toBe(
      "Kod z SMS składa się z 6 cyfr.",
    );
  });

  it("translates the services' own codes", () => {
    expect(fieldMessage({ field: "password", message: "at least 12 characters", code: "password_too_short" }, t)).toBe(
      "Hasło musi mieć co najmniej 12 znaków.",
    );
    expect(fieldMessage({ field: "data.assignee_nip", message: "x", code: "format" }, t)).toBe(
      "Podaj prawidłowy NIP (10 cyfr).",
    );
    expect(fieldMessage({ field: "attachments.0", message: "x", code: "attachment_type_not_allowed" }, t)).toBe(
      "Dozwolone są tylko pliki PDF, JPG i PNG.",
    );
  });

  it("falls back to a general Polish message for an unknown code", () => {
    expect(fieldMessage({ field: "whatever", message: "Something odd", code: "odd_code" }, t)).toBe(
      "Nieprawidłowa wartość.",
    );
  });

  it("answers in English with the English catalogue", () => {
    expect(fieldMessage({ field: "email", message: "Field required", code: "missing" }, en)).toBe(
      "This field is required.",
    );
  });
});

describe("toFormErrors", () => {
  it("puts each field error next to its field and asks to fix them", () => {
    const error = refusal(422, {
      code: "validation_failed",
      errors: [
        { field: "email", message: "value is not a valid email address", code: "value_error" },
        { field: "phone", message: "Value error, invalid phone number", code: "value_error" },
      ],
    });
    const result = toFormErrors(error, t, { known: ["email", "phone", "first_name"] });
    expect(result.fields).toEqual({
      email: "Podaj prawidłowy adres e-mail.",
      phone: "Podaj prawidłowy numer telefonu.",
    });
    expect(result.form).toBe("Popraw zaznaczone pola.");
  });

  it("keeps the first message when a field has several", () => {
    const error = refusal(422, {
      errors: [
        { field: "email", message: "Field required", code: "missing" },
        { field: "email", message: "too long", code: "string_too_long" },
      ],
    });
    expect(toFormErrors(error, t).fields).toEqual({ email: "To pole jest wymagane." });
  });

  it("renames API fields for the form", () => {
    const error = refusal(422, { errors: [{ field: "new_password", message: "x", code: "password_too_short" }] });
    const result = toFormErrors(error, t, { known: ["password"], aliases: { new_password: "password" } });
    expect(result.fields).toEqual({ password: "Hasło musi mieć co najmniej 12 znaków." });
  });

  it("puts a list item's error next to the list's field", () => {
    const error = refusal(422, {
      errors: [
        { field: "attachments.1", message: "x", code: "attachment_empty" },
        { field: "data.countries.0", message: "x", code: "string_pattern_mismatch" },
        { field: "contact_persons.0", message: "x", code: "missing" },
      ],
    });
    const result = toFormErrors(error, t, { known: ["attachments", "data.countries"] });
    expect(result.fields).toEqual({
      attachments: "Załącznik jest pusty.",
      "data.countries": "Wartość ma nieprawidłowy format.",
    });
    expect(result.form).toBe("To pole jest wymagane.");
  });

  it("shows an error for a field the form does not have as the form's message", () => {
    const error = refusal(422, { errors: [{ field: "client_id", message: "x", code: "string_pattern_mismatch" }] });
    const result = toFormErrors(error, t, { known: ["email"] });
    expect(result.fields).toEqual({});
    expect(result.form).toBe("Wartość ma nieprawidłowy format.");
  });

  it("reads a field error from a 403 too (scopes the manager does not hold)", () => {
    const error = new ApiError("forbidden", 403, {
      status: 403,
      code: "scope_not_held",
      errors: [{ field: "scopes", message: "you cannot grant what you do not hold", code: "scope_not_held" }],
    });
    expect(toFormErrors(error, t, { known: ["scopes"] }).fields).toEqual({
      scopes: "Możesz nadać tylko uprawnienia, które sam posiadasz.",
    });
  });

  it("says a refusal without fields by its code", () => {
    const error = new ApiError("unauthenticated", 401, { status: 401, code: "invalid_credentials" });
    expect(toFormErrors(error, t)).toEqual({ fields: {}, form: "Nieprawidłowy adres e-mail lub hasło." });
  });

  it("can put a refusal without a field next to a field", () => {
    const error = refusal(400, { code: "activation_code_invalid" });
    expect(toFormErrors(error, t, { codeFields: { activation_code_invalid: "code" } }).fields).toEqual({
      code: "Kod jest nieprawidłowy, wygasł lub został już użyty.",
    });
  });

  it("says plainly that the connection was lost, and that the typing was kept", () => {
    const result = toFormErrors(new ApiError("network", 0, null), t);
    expect(result.fields).toEqual({});
    expect(result.form).toContain("Brak połączenia z serwerem");
    expect(result.form).toContain("nie zostały utracone");
  });

  it("says a 5xx is a temporary failure even when it names no code", () => {
    expect(toFormErrors(new ApiError("server", 502, null), t).form).toContain("chwilowo niedostępna");
    const internal = refusal(500, { code: "internal_error", detail: "an unexpected error occurred" });
    expect(toFormErrors(internal, t).form).toContain("chwilowo niedostępna");
  });

  it("handles a thrown non-API error", () => {
    expect(toFormErrors(new TypeError("boom"), t).form).toBe("Wystąpił nieoczekiwany błąd. Spróbuj ponownie.");
  });
});

describe("problemMessage", () => {
  it("goes by status when the code is unknown", () => {
    expect(problemMessage({ status: 404, code: "nothing_like_it" }, 404, t)).toBe("Nie znaleziono szukanych danych.");
    expect(problemMessage(null, 429, t)).toBe("Zbyt wiele prób. Odczekaj chwilę i spróbuj ponownie.");
    expect(problemMessage(null, 403, t)).toBe("Nie masz uprawnień do wykonania tej operacji.");
  });
});
