import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { setAccessToken } from "../api/http";
import { SessionProvider } from "../auth/session";
import { I18nProvider } from "../i18n";
import { ActivationPage } from "./Activation";
import { LoginPage } from "./Login";

function json(status: number, body: unknown, type = "application/json"): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": type } });
}

const problem = (status: number, body: object) => json(status, { status, ...body }, "application/problem+json");

let fetchMock: ReturnType<typeof vi.fn>;

beforeEach(() => {
  setAccessToken(null);
  fetchMock = vi.fn();
  vi.stubGlobal("fetch", fetchMock);
  // The session's first call: no refresh cookie.
  fetchMock.mockResolvedValueOnce(problem(401, { code: "invalid_refresh_token" }));
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function page(element: React.ReactNode, path = "/logowanie") {
  return render(
    <I18nProvider lang="pl">
      <MemoryRouter initialEntries={[path]}>
        <SessionProvider>{element}</SessionProvider>
      </MemoryRouter>
    </I18nProvider>,
  );
}

async function type(label: RegExp, value: string) {
  fireEvent.change(await screen.findByLabelText(label), { target: { value } });
}

describe("login form", () => {
  it("shows the API's field errors in Polish next to the fields", async () => {
    page(<LoginPage />);
    await type(/Adres e-mail/, "nie-email");
    await type(/^Hasło/, "x");
    fetchMock.mockResolvedValueOnce(
      problem(422, {
        code: "validation_failed",
        errors: [{ field: "email", message: "value is not a valid email address", code: "value_error" }],
      }),
    );
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Zaloguj się" }));
    });
    const email = screen.getByLabelText(/Adres e-mail/);
    expect(email.getAttribute("aria-invalid")).toBe("true");
    const described = email.getAttribute("aria-describedby")!.split(" ");
    const messages = described.map((id) => document.getElementById(id)?.textContent);
    expect(messages).toContain("Podaj prawidłowy adres e-mail.");
  });

  it("keeps what was typed when the connection is lost, and says so", async () => {
    page(<LoginPage />);
    await type(/Adres e-mail/, "anna@example.pl");
    await type(/^Hasło/, "bardzo-tajne-haslo");
    fetchMock.mockRejectedValueOnce(new TypeError("Failed to fetch"));
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Zaloguj się" }));
    });
    expect(screen.getByRole("alert").textContent).toContain("Brak połączenia z serwerem");
    expect((screen.getByLabelText(/Adres e-mail/) as HTMLInputElement).value).toBe("anna@example.pl");
    expect((screen.getByLabelText(/^Hasło/) as HTMLInputElement).value).toBe("bardzo-tajne-haslo");
  });

  it("says a wrong password plainly", async () => {
    page(<LoginPage />);
    await type(/Adres e-mail/, "anna@example.pl");
    await type(/^Hasło/, "zle-haslo-123");
    fetchMock.mockResolvedValueOnce(problem(401, { code: "invalid_credentials", detail: "wrong e-mail or password" }));
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Zaloguj się" }));
    });
    expect(screen.getByRole("alert").textContent).toBe("Nieprawidłowy adres e-mail lub hasło.");
  });
});

describe("activation", () => {
  it("goes e-mail -> SMS code in the password field -> link sent", async () => {
    page(<ActivationPage />, "/aktywacja");
    await type(/Adres e-mail/, "anna@example.pl");
    fetchMock.mockResolvedValueOnce(json(202, { status: "accepted" }));
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Dalej" }));
    });
    const [url, init] = fetchMock.mock.calls.at(-1)!;
    expect(url).toBe("/api/identity/activation/start");
    expect(JSON.parse(init.body)).toEqual({ email: "anna@example.pl" });

    await type(/^Hasło/, "12345");
    fetchMock.mockResolvedValueOnce(problem(400, { code: "activation_code_invalid" }));
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Dalej" }));
    });
    expect(screen.getByText("Kod jest nieprawidłowy, wygasł lub został już użyty.")).toBeTruthy();

    await type(/^Hasło/, "123456");
    fetchMock.mockResolvedValueOnce(json(200, { status: "link_sent" }));
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Dalej" }));
    });
    expect(JSON.parse(fetchMock.mock.calls.at(-1)![1].body)).toEqual({ email: "anna@example.pl", code: "123456" });
    expect(screen.getByText("Na adres anna@example.pl wysłaliśmy link aktywacyjny.")).toBeTruthy();
  });
});
