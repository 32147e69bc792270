import { screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { answer, callsTo, installFakeApi, json, page, problem, type Answer } from "../testing/fakeApi";
import { click, type } from "../testing/forms";
import { ActivationPage } from "./Activation";

installFakeApi();

const TOKEN = "3f1c2a4e-8a51-4c61-9a4f-0f3c9b6d2e11.Kx8vQ2pLm7RtZ4wYc9NbF3hJs6GdUe1A-xY_0123456";
const SECRET = TOKEN.split(".")[1];
const PASSWORD = "Zielony kot 2026 na dachu";

/** The address bar as it was when each request went out: what its Referer would have carried. */
let addresses: string[] = [];

function seen(response: Response): Answer {
  return () => {
    addresses.push(window.location.href);
    return response;
  };
}

/** Opens the e-mailed link, nobody logged in. */
async function visit(link: string, completed: Response = json(200, { status: "activated" })) {
  addresses = [];
  answer("POST /api/identity/token/refresh", seen(problem(401, { code: "invalid_refresh_token" })));
  answer("POST /api/identity/activation/complete", seen(completed));
  window.history.replaceState(null, "", link);
  page(<ActivationPage />, link);
  await screen.findByRole("heading", { name: "Nadaj hasło" });
}

async function setPassword() {
  type(document.body, /Nowe hasło/, PASSWORD);
  type(document.body, /Powtórz hasło/, PASSWORD);
  await click(document.body, "Nadaj hasło");
}

/** Every request the page made, as the network would see it: the URL and the headers. */
function requestLines(): string[] {
  return vi.mocked(fetch).mock.calls.map(([url, init]) => `${String(url)} ${JSON.stringify(init?.headers ?? {})}`);
}

describe("the page of the e-mailed activation link", () => {
  it("takes the token from the fragment, out of the address bar before any request, and posts it only in the body", async () => {
    await visit(`/aktywacja#token=${TOKEN}`);
    expect(window.location.href).toBe(`${window.location.origin}/aktywacja`);
    await setPassword();
    await screen.findByText("Konto zostało aktywowane. Możesz się zalogować.");
    expect(callsTo("POST /api/identity/activation/complete")).toEqual([{ token: TOKEN, password: PASSWORD }]);
    expect(addresses).toEqual([`${window.location.origin}/aktywacja`, `${window.location.origin}/aktywacja`]);
    expect(requestLines().filter((line) => line.includes(SECRET))).toEqual([]);
    expect(JSON.stringify(callsTo("POST /api/identity/token/refresh"))).not.toContain(SECRET);
  });

  it("still takes the token of a link e-mailed with it in the query, and clears it from the address bar too", async () => {
    await visit(`/aktywacja?token=${TOKEN}`);
    expect(window.location.href).toBe(`${window.location.origin}/aktywacja`);
    await setPassword();
    await screen.findByText("Konto zostało aktywowane. Możesz się zalogować.");
    expect(callsTo("POST /api/identity/activation/complete")).toEqual([{ token: TOKEN, password: PASSWORD }]);
    expect(addresses.filter((address) => address.includes(SECRET))).toEqual([]);
    expect(requestLines().filter((line) => line.includes(SECRET))).toEqual([]);
  });

  it("reads a percent-encoded token as identity issued it", async () => {
    await visit(`/aktywacja#token=${encodeURIComponent(TOKEN)}`);
    await setPassword();
    expect(callsTo("POST /api/identity/activation/complete")).toEqual([{ token: TOKEN, password: PASSWORD }]);
  });

  it("says plainly that an expired or used link activated nothing, and keeps the token out of the address bar", async () => {
    await visit(`/aktywacja#token=${TOKEN}`, problem(400, { code: "activation_link_invalid" }));
    await setPassword();
    await screen.findByText(
      "Link aktywacyjny jest nieprawidłowy, wygasł lub został już użyty. Rozpocznij aktywację od nowa.",
    );
    expect(screen.queryByText("Konto zostało aktywowane. Możesz się zalogować.")).toBeNull();
    expect(window.location.href).toBe(`${window.location.origin}/aktywacja`);
  });

  it("without a token starts the activation with the e-mail address", async () => {
    answer("POST /api/identity/token/refresh", problem(401, { code: "invalid_refresh_token" }));
    window.history.replaceState(null, "", "/aktywacja#token=");
    page(<ActivationPage />, "/aktywacja");
    await screen.findByRole("heading", { name: "Aktywacja konta" });
    expect(screen.getByLabelText(/Adres e-mail/)).toBeTruthy();
    expect(window.location.href).toBe(`${window.location.origin}/aktywacja`);
  });
});
