/** The API as the browser's fetch sees it, for component tests: canned answers per "METHOD path". */
import { cleanup, render } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter } from "react-router";
import { afterEach, beforeEach, vi } from "vitest";
import { setAccessToken } from "../api/http";
import { SessionProvider } from "../auth/session";
import { I18nProvider } from "../i18n";

export function json(status: number, body: unknown, type = "application/json"): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": type } });
}

export const problem = (status: number, body: object) => json(status, { status, ...body }, "application/problem+json");

/** A response, a failure of the connection itself (thrown by fetch), or an answer built from the request's body. */
export type Answer = Response | Error | ((body: unknown) => Response);

let answers = new Map<string, Answer[]>();
let calls: Array<{ route: string; body: unknown }> = [];

/** The answers to "METHOD path", in turn; the last one repeats. */
export function answer(route: string, ...responses: Answer[]): void {
  answers.set(route, responses);
}

/** The bodies sent to "METHOD path" (JSON parsed; a multipart FormData as it is). */
export function callsTo(route: string): unknown[] {
  return calls.filter((call) => call.route === route).map((call) => call.body);
}

/** Replaces fetch for every test of the file; a call with no answer fails the test that made it. */
export function installFakeApi(): void {
  beforeEach(() => {
    setAccessToken(null);
    answers = new Map();
    calls = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string, init: RequestInit = {}) => {
        const route = `${init.method ?? "GET"} ${url}`;
        const body = typeof init.body === "string" ? JSON.parse(init.body) : init.body;
        calls.push({ route, body });
        const queue = answers.get(route);
        if (!queue?.length) throw new Error(`unexpected ${route}`);
        const next = queue.length > 1 ? queue.shift()! : queue[0];
        if (next instanceof Error) throw next;
        return typeof next === "function" ? next(body) : next.clone();
      }),
    );
  });
  afterEach(() => {
    cleanup();
    vi.unstubAllGlobals();
  });
}

export interface Me {
  account_id: string;
  email: string;
  first_name: string;
  last_name: string;
  phone: string;
  client: { client_id: string; name: string };
  scopes: string[];
  contract_ids: string[] | null;
  clients: Array<{ client_id: string; name: string }>;
}

export const ME: Me = {
  account_id: "acc-1",
  email: "anna@example.pl",
  first_name: "Anna",
  last_name: "Kowalska",
  phone: "+48601234567",
  client: { client_id: "CL-1", name: "Transbud" },
  scopes: ["profile:read", "profile:edit"],
  contract_ids: null,
  clients: [{ client_id: "CL-1", name: "Transbud" }],
};

/** A session restored from the refresh cookie, of `me`. */
export function loggedIn(me: Me = ME): void {
  const token = { access_token: "t", token_type: "bearer", expires_in: 300, client_id: me.client.client_id };
  answer("POST /api/identity/token/refresh", json(200, token));
  answer("GET /api/identity/me", json(200, me));
}

/** No refresh cookie: nobody is logged in. */
export function anonymous(): void {
  answer("POST /api/identity/token/refresh", problem(401, { code: "invalid_refresh_token" }));
}

/** A screen inside the app's providers, in Polish, at `path`. */
export function page(element: ReactNode, path: string) {
  return render(
    <I18nProvider lang="pl">
      <MemoryRouter initialEntries={[path]}>
        <SessionProvider>{element}</SessionProvider>
      </MemoryRouter>
    </I18nProvider>,
  );
}
