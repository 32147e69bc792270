// Browser scenarios of the client zone, one per run: `node portal.e2e.mjs <scenario>` (cwd: web/).
// Run by tests/e2e/test_portal_e2e.py against a portal it started and seeded. Debian's Chromium,
// driven by playwright-core; every screen is saved under $SCREENSHOTS.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.cwd(), "package.json"));
const { chromium } = require("playwright-core");
const axe = require("axe-core");

const BASE = process.env.PORTAL_URL;
const SANDBOX = process.env.SANDBOX_URL;
const SHOTS = process.env.SCREENSHOTS;
const SEEDED = JSON.parse(process.env.SEEDED ?? "{}");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
mkdirSync(SHOTS, { recursive: true });

const PASSWORD = "Zielona-Ciezarowka-2026!";
const ANNA = { email: "anna.kowalska@transbud.example.pl", phone: "+48601234567", name: "Anna" };
const PIOTR = { email: "piotr.nowak@transbud.example.pl", phone: "+48602345678", name: "Piotr" };
const MAREK = { email: "marek.zielinski@transbud.example.pl", phone: "+48603456789", name: "Marek" };
const EWA = { email: "ewa.wisniewska@transbud.example.pl", phone: "+48604567890", name: "Ewa", lastName: "Wiśniewska" };
const TRANSBUD = "Transbud Sp. z o.o.";
const LOGISTYKA = "Kowalski Logistyka S.A.";
const NBSP = "\u00a0";
const money = new Intl.NumberFormat("pl-PL", { style: "currency", currency: "PLN", useGrouping: "always" });
const zl = (amount) => money.format(amount);

const TEXT = {
  in_progress: "Płatność została rozpoczęta. Na czas realizacji przycisk ZAPŁAĆ został zablokowany.",
  accepted: "Płatność została przyjęta, trwa rozliczenie.",
  failed: "Płatność nie powiodła się. Spróbuj ponownie.",
  not_started: "Oczekiwanie na rozpoczęcie płatności.",
  unavailable: "Funkcja płatności jest chwilowo niedostępna.",
};

const report = { scenario: process.argv[2], checks: [], screenshots: [] };
const check = (what) => report.checks.push(what);

// ---- helpers ----

/** Saves the screen; a screen of the portal (not the gateway sandbox's) is checked for accessibility first. */
async function shot(page, name) {
  if (page.url().startsWith(BASE)) await assertAccessibleBasics(page, name);
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  report.screenshots.push(`${name}.png`);
}

async function api(pathname, { token, method = "GET", body } = {}) {
  const response = await fetch(BASE + pathname, {
    method,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(body ? { "Content-Type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${pathname}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function apiLogin(email, password = PASSWORD, clientId = undefined) {
  const body = { email, password, ...(clientId ? { client_id: clientId } : {}) };
  return (await api("/api/identity/login", { method: "POST", body })).access_token;
}

/** The newest message of a template to an address in the dev outbox, waiting for it to arrive. */
async function outbox(to, template, after = null) {
  for (let attempt = 0; attempt < 150; attempt++) {
    const entries = await api(`/api/notifications/dev/outbox?to=${encodeURIComponent(to)}&limit=20`);
    const found = entries.find((entry) => entry.template === template && (!after || entry.id !== after));
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no ${template} to ${to} in the dev outbox`);
}

async function latestId(to, template) {
  const entries = await api(`/api/notifications/dev/outbox?to=${encodeURIComponent(to)}&limit=20`);
  return entries.find((entry) => entry.template === template)?.id ?? null;
}

// axe-core's WCAG 2.0/2.1 level A and AA rules: among them color-contrast, label, button-name, image-alt.
const WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
let screensAudited = 0;

/** axe-core's verdict on the page as it is now (evaluated through the DevTools protocol, which the CSP does not govern). */
async function assertNoAxeViolations(page, where) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(axe.source);
  const violations = await page.evaluate(async (tags) => {
    const result = await window.axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
    return result.violations.map((violation) => ({
      rule: violation.id,
      impact: violation.impact,
      nodes: violation.nodes.map((node) => `${node.target.join(" ")}: ${node.failureSummary.replace(/\s+/g, " ")}`),
    }));
  }, WCAG_AA);
  assert.deepEqual(violations, [], `axe-core (WCAG 2.1 A/AA) on ${where}`);
  screensAudited += 1;
}

/** Every form control of the page has an accessible label; the page has one h1 and a lang; axe-core finds nothing. */
async function assertAccessibleBasics(page, where) {
  const problems = await page.evaluate(() => {
    const found = [];
    for (const control of document.querySelectorAll("input, select, textarea, button")) {
      if (control.type === "hidden") continue;
      const labelled =
        (control.labels && control.labels.length > 0) ||
        control.getAttribute("aria-label") ||
        control.getAttribute("aria-labelledby") ||
        (control.tagName === "BUTTON" && control.textContent.trim());
      if (!labelled) found.push(`unlabelled ${control.tagName.toLowerCase()} ${control.name || control.id}`);
    }
    if (document.querySelectorAll("h1").length !== 1) found.push(`${document.querySelectorAll("h1").length} h1 elements`);
    if (!document.documentElement.lang) found.push("no lang on <html>");
    const ids = [...document.querySelectorAll("[id]")].map((element) => element.id);
    const duplicates = ids.filter((id, index) => ids.indexOf(id) !== index);
    if (duplicates.length) found.push(`duplicate ids: ${[...new Set(duplicates)].join(", ")}`);
    return found;
  });
  assert.deepEqual(problems, [], `accessibility basics on ${where}`);
  await assertNoAxeViolations(page, where);
}

async function heading(page, text) {
  await page.getByRole("heading", { level: 1, name: text }).waitFor();
}

// Focus moves to the first refused field on the next animation frame after the errors render, so the
// check waits for it (a few seconds at most) instead of reading the focused element once.
async function expectFocusOn(page, name) {
  const focused = () => page.evaluate(() => document.activeElement?.getAttribute("name") ?? null);
  await page
    .waitForFunction((expected) => document.activeElement?.getAttribute("name") === expected, name, { timeout: 5000 })
    .catch(() => undefined);
  assert.equal(await focused(), name, `focus did not move to the field "${name}"`);
}

async function login(page, email, password = PASSWORD) {
  await page.goto(`${BASE}/logowanie`);
  await page.getByLabel("Adres e-mail").fill(email);
  await page.getByLabel(/^Hasło/).fill(password);
  await page.getByRole("button", { name: "Zaloguj się" }).click();
  await heading(page, /Dzień dobry/);
}

async function activeClient(page) {
  return (await page.getByTestId("active-client").textContent()).trim();
}

async function switchClient(page, name) {
  const select = page.getByLabel("Zmień kontekst Klienta");
  await select.selectOption({ label: name });
  await page.getByTestId("active-client").filter({ hasText: name }).waitFor();
}

async function ensureClient(page, name) {
  if ((await activeClient(page)) !== name) await switchClient(page, name);
}

/** Activation as the client zone describes it: e-mail -> SMS code in "hasło" -> e-mailed link -> password. */
async function activate(page, person, password, prefix) {
  const smsBefore = await latestId(person.phone, "activation_code");
  await page.goto(`${BASE}/aktywacja`);
  await heading(page, "Aktywacja konta");
  if (prefix) await shot(page, `${prefix}-1-email`);
  await page.getByLabel("Adres e-mail").fill(person.email);
  await page.getByRole("button", { name: "Dalej" }).click();
  await page.getByText("wysłaliśmy SMS z kodem autoryzacyjnym").waitFor();
  const sms = await outbox(person.phone, "activation_code", smsBefore);
  const code = /\b(\d{6})\b/.exec(sms.text)?.[1];
  assert.ok(code, `no 6-digit code in the SMS: ${sms.text}`);
  check(`SMS code read from the dev outbox for ${person.phone}`);

  // A wrong code first: the refusal shows next to the "hasło" field.
  const wrong = code === "000000" ? "111111" : "000000";
  await page.getByLabel(/^Hasło/).fill(wrong);
  await page.getByRole("button", { name: "Dalej" }).click();
  await page.getByText("Kod jest nieprawidłowy, wygasł lub został już użyty.").waitFor();
  check("a wrong SMS code is refused in Polish next to the field");
  if (prefix) await shot(page, `${prefix}-2-code-refused`);

  const mailBefore = await latestId(person.email, "activation_link");
  await page.getByLabel(/^Hasło/).fill(code);
  await page.getByRole("button", { name: "Dalej" }).click();
  await page.getByText(`Na adres ${person.email} wysłaliśmy link aktywacyjny.`).waitFor();
  if (prefix) await shot(page, `${prefix}-3-link-sent`);
  const mail = await outbox(person.email, "activation_link", mailBefore);
  const link = /(https?:\/\/[^\s"'<>]+\/aktywacja#token=[^\s"'<>]+)/.exec(mail.text + " " + (mail.html ?? ""))?.[1];
  assert.ok(link, `no activation link in the e-mail: ${mail.text}`);
  assert.ok(link.startsWith(BASE), `the link points elsewhere: ${link}`);
  assert.equal(new URL(link).search, "", `the link has a query: ${link}`);
  check(`activation link read from the e-mail to ${person.email}, its token in the fragment only`);

  // What the browser sends while the link's page is open (a URL as the server gets it: no fragment).
  const secret = new URLSearchParams(new URL(link).hash.slice(1)).get("token").split(".")[1];
  const sent = [];
  const record = (request) => {
    const url = new URL(request.url());
    url.hash = "";
    const headers = request.allHeaders().catch(() => request.headers());
    sent.push(headers.then((all) => ({ url: url.href, headers: JSON.stringify(all), body: request.postData() ?? "" })));
  };
  page.on("request", record);
  // Opened from the mail program: a page load of its own (a fragment change alone would not reload).
  await page.goto("about:blank");
  await page.goto(link);
  await heading(page, "Nadaj hasło");
  assert.ok(!page.url().includes("token="), "the link's token stays in the address bar");
  // A too short password: identity's policy, in Polish next to the field.
  await page.getByLabel("Nowe hasło").fill("krotkie");
  await page.getByLabel("Powtórz hasło").fill("krotkie");
  await page.getByRole("button", { name: "Nadaj hasło" }).click();
  await page.getByText("Hasło musi mieć co najmniej 12 znaków.").waitFor();
  check("the password policy's refusal shows in Polish");
  if (prefix) await shot(page, `${prefix}-4-password`);
  await page.getByLabel("Nowe hasło").fill(password);
  await page.getByLabel("Powtórz hasło").fill(password);
  await page.getByRole("button", { name: "Nadaj hasło" }).click();
  await page.getByText("Konto zostało aktywowane. Możesz się zalogować.").waitFor();
  page.off("request", record);
  const carrying = (request) => ["url", "headers", "body"].filter((part) => request[part].includes(secret));
  const carried = (await Promise.all(sent)).flatMap((request) =>
    carrying(request).map((part) => `${new URL(request.url).pathname} ${part}`),
  );
  assert.deepEqual(
    carried,
    ["/api/identity/activation/complete body", "/api/identity/activation/complete body"],
    "the link's token went somewhere else than the body of /activation/complete",
  );
  check("the link's token left the browser only in the body of /activation/complete (no URL, no Referer)");
  if (prefix) await shot(page, `${prefix}-5-done`);
}

async function confirmEInvoice(page) {
  const confirmation = await outbox("faktury@transbud.example.pl", "einvoice_email_confirmation");
  const confirmLink = /(https?:\/\/[^\s"'<>]+\/profil\/e-faktura\/potwierdzenie#token=[^\s"'<>]+)/.exec(
    confirmation.text + " " + (confirmation.html ?? ""),
  )?.[1];
  assert.ok(confirmLink?.startsWith(BASE), `no confirmation link in: ${confirmation.text}`);
  await page.goto(confirmLink.replaceAll("&amp;", "&"));
  await page.getByText("Adres faktury@transbud.example.pl został potwierdzony.").waitFor();
  assert.equal(new URL(page.url()).hash, "");
  check("the e-mailed link confirms the e-invoice address (and leaves no token in the address bar)");
  await shot(page, "12-profile-einvoice-confirmed");
  await page.goto(`${BASE}/profil`);
  await page.getByTestId("einvoice-email").filter({ hasText: "faktury@transbud.example.pl" }).waitFor();
  await page.getByText("Usługa e-faktura jest aktywna.").waitFor();
}

/** A sub-account of Transbud created by Anna and activated the demo way (back office, dev mode). */
async function activeSubAccount(person, password, scopes) {
  const token = await apiLogin(ANNA.email, PASSWORD, "CL-TRANSBUD");
  await api("/api/identity/subaccounts", {
    token,
    method: "POST",
    body: { first_name: person.name, last_name: person.lastName, email: person.email, phone: person.phone, scopes, contract_ids: null },
  });
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(`${BASE}/api/identity/backoffice/dev/activate`, {
      method: "POST",
      headers: { Authorization: `Bearer ${process.env.BACKOFFICE_TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify({ email: person.email, password }),
    });
    if (response.ok) return;
    assert.ok(attempt < 100 && response.status === 404, `activating ${person.email}: ${response.status} ${await response.text()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function loginStatus(email, password) {
  const response = await fetch(`${BASE}/api/identity/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  return response.status;
}

async function dashboardMatchesApi(page, token) {
  const data = await api("/api/billing/dashboard", { token });
  const overdue = page.getByTestId("overdue");
  if (data.overdue.count > 0) {
    assert.equal(await page.getByTestId("overdue-total").textContent(), zl(data.overdue.total));
    await overdue.getByText(`Liczba zaległych faktur: ${data.overdue.count}`).waitFor();
  } else {
    await overdue.getByText("Nie masz zaległych płatności.").waitFor();
  }
  if (Number(data.overpayment) > 0) {
    assert.equal(await page.getByTestId("overpayment-total").textContent(), zl(data.overpayment));
  } else {
    await page.getByTestId("overpayment").getByText("Brak nierozliczonych wpłat.").waitFor();
  }
  const unpaid = (data.upcoming ?? []).filter((row) => !row.paid);
  if (unpaid.length) {
    const grosze = unpaid.reduce((sum, row) => sum + BigInt(Math.round(Number(row.invoice?.outstanding ?? row.gross) * 100)), 0n);
    const total = `${grosze / 100n}.${String(grosze % 100n).padStart(2, "0")}`;
    assert.equal(await page.getByTestId("upcoming-total").textContent(), zl(total));
  }
  const documents = data.latest_documents ?? [];
  assert.equal(await page.getByTestId("latest-documents").locator("li").count(), documents.length);
  for (const document of documents) await page.getByTestId("latest-documents").getByText(document.title).waitFor();
  for (const account of data.repayment_accounts) {
    const grouped = account.account_number.replace(/^(\d{2})(\d{4})(\d{4})(\d{4})(\d{4})(\d{4})(\d{4})$/, "$1 $2 $3 $4 $5 $6 $7");
    await page.getByTestId("accounts").getByText(grouped).waitFor();
  }
  return data;
}

// ---- scenarios ----

const scenarios = {
  async login(page) {
    await page.goto(`${BASE}/`);
    await heading(page, "Logowanie");
    check("an anonymous visit lands on the login page");
    await shot(page, "01-login");
    await page.getByLabel("Adres e-mail").fill(ANNA.email);
    await page.getByLabel(/^Hasło/).fill("to-nie-jest-moje-haslo");
    await page.getByRole("button", { name: "Zaloguj się" }).click();
    await page.getByRole("alert").filter({ hasText: "Nieprawidłowy adres e-mail lub hasło." }).waitFor();
    assert.equal(await page.getByLabel("Adres e-mail").inputValue(), ANNA.email);
    check("a wrong password is refused in Polish and the e-mail stays typed");
    await shot(page, "01-login-refused");
    // Keyboard only: the password field, then Enter.
    await page.getByLabel(/^Hasło/).fill("");
    await page.getByLabel(/^Hasło/).focus();
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press("Enter");
    await heading(page, "Dzień dobry, Anna");
    check("login by keyboard shows the dashboard");
    assert.match(await page.title(), /Dzień dobry, Anna · Strefa Klienta/);
    await assertAccessibleBasics(page, "dashboard");
    await page.reload();
    await heading(page, "Dzień dobry, Anna");
    check("a reload keeps the session (refresh cookie, access token in memory only)");
    // Two tabs opened at once refresh in turn (the refresh token rotates): both stay logged in.
    const tabs = await Promise.all([page.context().newPage(), page.context().newPage()]);
    await Promise.all(tabs.map((tab) => tab.goto(`${BASE}/umowy`)));
    await Promise.all(tabs.map((tab) => heading(tab, "Umowy")));
    await Promise.all(tabs.map((tab) => tab.close()));
    await page.getByRole("link", { name: "Dokumenty", exact: true }).click();
    await heading(page, "Dokumenty");
    check("two tabs opened at once both stay logged in, and so does the first");
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
    assert.ok(!stored.includes("eyJ"), "a token is readable by scripts");
    check("no token in localStorage, sessionStorage or script-readable cookies");
    await page.getByRole("button", { name: "Wyloguj" }).click();
    await heading(page, "Logowanie");
    await page.goto(`${BASE}/umowy`);
    await heading(page, "Logowanie");
    check("after logout the zone asks to log in again");
  },

  async activation(page) {
    await activate(page, PIOTR, "Piotr-Ma-Nowe-Haslo-77", "02-activation");
    await login(page, PIOTR.email, "Piotr-Ma-Nowe-Haslo-77");
    await heading(page, "Dzień dobry, Piotr");
    check("the activated person logs in with the password it set");
    await shot(page, "02-activation-6-first-login");
  },

  async dashboard(page) {
    await login(page, ANNA.email);
    await ensureClient(page, TRANSBUD);
    const token = await apiLogin(ANNA.email, PASSWORD, "CL-TRANSBUD");
    const data = await dashboardMatchesApi(page, token);
    assert.ok(data.overdue.count > 0, "the seed has an overdue invoice");
    check(`dashboard figures equal the API's (overdue ${zl(data.overdue.total)}, ${data.latest_documents.length} documents)`);
    await page.getByRole("link", { name: "Przejdź do zakładki „Faktury i rozliczenia”", exact: true }).click();
    await heading(page, "Faktury i rozliczenia");
    check("the latest documents lead to Faktury i rozliczenia");
    await page.goto(`${BASE}/`);
    await heading(page, /Dzień dobry/);
    await shot(page, "03-dashboard");
    const tabs = await page.getByRole("navigation", { name: "Zakładki Strefy Klienta" }).getByRole("link").allTextContents();
    assert.deepEqual(tabs, ["Strona główna", "Umowy", "Faktury i rozliczenia", "Dokumenty", "Wnioski", "Mój profil", "Subkonta"]);
    check("the tab panel shows every tab to the main user");
  },

  async context(page) {
    await login(page, ANNA.email);
    await ensureClient(page, TRANSBUD);
    await shot(page, "04-context-before");
    await switchClient(page, LOGISTYKA);
    check("the client context switch changes the active client");
    const token = await apiLogin(ANNA.email, PASSWORD, "CL-LOGISTYKA");
    const data = await dashboardMatchesApi(page, token);
    assert.equal(data.overpayment, "500.00");
    assert.equal(await page.getByTestId("overpayment-total").textContent(), `500,00${NBSP}zł`);
    check("the other client's dashboard equals its API figures (overpayment 500,00 zł)");
    await shot(page, "04-context-after");
    await page.getByRole("link", { name: "Umowy", exact: true }).click();
    await heading(page, "Umowy");
    await page.getByRole("link", { name: "UL/2024/0930", exact: true }).waitFor();
    assert.equal(await page.getByRole("link", { name: "UL/2025/0142", exact: true }).count(), 0);
    check("contracts follow the context: only the other client's contract is listed");
    await page.reload();
    await page.getByRole("link", { name: "UL/2024/0930", exact: true }).waitFor();
    check("the chosen client stays after a reload");
    await switchClient(page, TRANSBUD);
  },

  async subaccount(page) {
    await login(page, ANNA.email);
    await ensureClient(page, TRANSBUD);
    await page.getByRole("link", { name: "Subkonta", exact: true }).click();
    await heading(page, "Subkonta");
    // The e-invoice service of the client, with the profile's window editing its address.
    const einvoice = page.getByRole("region", { name: "E-faktura" });
    await einvoice.getByText(/^Usługa e-faktura (jest|nie jest) aktywna\.$/).waitFor();
    await einvoice.getByRole("button", { name: "Edytuj: E-faktura" }).click();
    const einvoiceWindow = page.getByRole("dialog", { name: "Edycja e-maila dla e-faktury" });
    await einvoiceWindow.getByLabel("E-mail do e-faktury").fill("faktury@transbud");
    await einvoiceWindow.getByRole("button").filter({ hasText: /^(Zapisz|Włącz e-fakturę)$/ }).click();
    await einvoiceWindow.getByText("Podaj prawidłowy adres e-mail.").waitFor();
    check("the sub-account page shows the e-invoice service; its window refuses a bad address in Polish next to the field");
    await shot(page, "05-subaccount-einvoice");
    await einvoiceWindow.getByRole("button", { name: "Zamknij" }).click();
    await einvoiceWindow.waitFor({ state: "hidden" });
    await page.getByLabel("Imię").fill("Marek");
    await page.getByLabel("Nazwisko").fill("Zieliński");
    await page.getByLabel("Adres e-mail").fill(MAREK.email);
    await page.getByLabel("Numer telefonu").fill("123");
    await page.getByLabel("Filtr zakresu uprawnień").fill("umowy");
    assert.equal(await page.locator('input[name="scopes"]').count(), 1);
    check("the permission-scope filter narrows the list");
    await page.getByLabel("Umowy i harmonogramy").check();
    await page.getByLabel("Filtr zakresu uprawnień").fill("");
    await page.getByLabel("Dokumenty").check();
    await page.getByLabel("Tylko wybrane umowy").check();
    await page.getByLabel(/UL\/2025\/0142/).check();
    await page.getByRole("button", { name: "Utwórz subkonto" }).click();
    await page.getByText("Podaj prawidłowy numer telefonu.").waitFor();
    assert.equal(await page.getByLabel("Imię").inputValue(), "Marek");
    await expectFocusOn(page, "phone");
    check("focus moves to the refused field");
    check("the API's refusal of the phone shows in Polish next to the field, the rest stays typed");
    await shot(page, "05-subaccount-refused");
    await page.getByLabel("Numer telefonu").fill("603 456 789");
    await page.getByRole("button", { name: "Utwórz subkonto" }).click();
    await page.getByText(`Subkonto dla ${MAREK.email} zostało utworzone.`).waitFor();
    await page.getByRole("cell", { name: MAREK.email }).waitFor();
    check("the sub-account is created with limited scopes and one contract");
    await shot(page, "05-subaccount-created");
    await page.getByRole("button", { name: "Wyloguj" }).click();
    await heading(page, "Logowanie");

    await activate(page, MAREK, "Marek-Haslo-Subkonta-9", null);
    await login(page, MAREK.email, "Marek-Haslo-Subkonta-9");
    const tabs = await page.getByRole("navigation", { name: "Zakładki Strefy Klienta" }).getByRole("link").allTextContents();
    assert.deepEqual(tabs, ["Strona główna", "Umowy", "Dokumenty"]);
    check("the sub-account sees only the tabs of its scopes");
    await shot(page, "05-subaccount-dashboard");
    await page.getByRole("link", { name: "Umowy", exact: true }).click();
    await heading(page, "Umowy");
    await page.getByRole("link", { name: "UL/2025/0142", exact: true }).waitFor();
    assert.equal(await page.getByRole("link", { name: "UL/2025/0178", exact: true }).count(), 0);
    check("the sub-account sees only its contract");
    await shot(page, "05-subaccount-contracts");
    await page.goto(`${BASE}/faktury`);
    await heading(page, "Brak uprawnień");
    check("a screen outside the scopes says so");
    const token = await apiLogin(MAREK.email, "Marek-Haslo-Subkonta-9");
    const refused = await fetch(`${BASE}/api/billing/invoices`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(refused.status, 403);
    check("and the API refuses it too (403)");
  },

  async request(page) {
    await login(page, ANNA.email);
    await ensureClient(page, TRANSBUD);
    await page.getByRole("link", { name: "Wnioski", exact: true }).click();
    await heading(page, "Wnioski");
    await shot(page, "06-requests-catalogue");
    await page.getByRole("button", { name: "Złóż wniosek: Duplikat faktury" }).click();
    await page.getByRole("button", { name: "Wyślij wniosek" }).click();
    await page.getByText("To pole jest wymagane.").first().waitFor();
    assert.equal(await page.getByText("To pole jest wymagane.").count(), 2);
    check("missing required fields are refused by the API and shown in Polish next to each field");
    await shot(page, "06-requests-refused");
    await expectFocusOn(page, "data.invoice_number");
    const number = Object.keys(SEEDED.invoices)[0];
    await page.getByLabel("Numer faktury").fill(number);
    await page.getByLabel("Umowa").selectOption(SEEDED.contracts["UL/2025/0142"]);
    await page.getByLabel("Powód").fill("Oryginał zaginął w transporcie.");
    await page.getByLabel("Sposób doręczenia").selectOption("email");
    await page.getByLabel("Załączniki").setInputFiles({
      name: "zgloszenie-szkody.pdf",
      mimeType: "application/pdf",
      buffer: Buffer.from("%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"),
    });
    await page.getByRole("button", { name: "Usuń zgloszenie-szkody.pdf" }).waitFor();
    await shot(page, "06-requests-form");
    await page.getByRole("button", { name: "Wyślij wniosek" }).click();
    const filed = page.getByText(/Wniosek [0-9A-F]{8} został złożony\./);
    await filed.waitFor();
    const reference = /Wniosek ([0-9A-F]{8})/.exec(await filed.textContent())[1];
    check(`the request is filed (${reference})`);
    const row = page.locator(`tr[data-request="${reference}"]`);
    await row.getByRole("button", { name: /Szczegóły/ }).click();
    await page.getByRole("heading", { name: "Historia statusów" }).waitFor();
    await page.getByRole("button", { name: "Pobierz zgloszenie-szkody.pdf" }).waitFor();
    check("its status history and attachment are shown");
    await shot(page, "06-requests-filed");
    const token = await apiLogin(ANNA.email, PASSWORD, "CL-TRANSBUD");
    const mine = await api("/api/profile/requests", { token });
    const stored = mine.find((item) => item.reference === reference);
    assert.equal(stored.attachments.length, 1);
    assert.equal(stored.form.invoice_number, number);
    check("the API holds the request with its attachment");
  },

  async payment(page, context) {
    await login(page, ANNA.email);
    await ensureClient(page, TRANSBUD);
    const number = Object.keys(SEEDED.invoices)[0];
    const invoiceId = SEEDED.invoices[number];
    await page.getByRole("link", { name: "Faktury i rozliczenia", exact: true }).click();
    await heading(page, "Faktury i rozliczenia");
    const row = page.locator(`tr[data-invoice="${number}"]`);
    const pay = row.getByRole("button", { name: "Zapłać" });
    await shot(page, "16-payment-1-invoices");
    await pay.click();
    await page.waitForURL(`${SANDBOX}/pay/**`);
    check("ZAPŁAĆ leads to the gateway's payment page");
    await shot(page, "16-payment-2-gateway");

    // Meanwhile, in another tab of the same browser: the button is locked, in the client zone's words.
    const other = await context.newPage();
    await other.goto(`${BASE}/faktury`);
    await heading(other, "Faktury i rozliczenia");
    const otherRow = other.locator(`tr[data-invoice="${number}"]`);
    await other.locator(`tr[data-invoice-status="${number}"]`).getByText(TEXT.in_progress).waitFor({ timeout: 30_000 });
    assert.equal(await otherRow.getByRole("button", { name: "Zapłać" }).isDisabled(), true);
    check("while the payment is in progress the ZAPŁAĆ button is locked and says why");
    await shot(other, "16-payment-3-locked");
    await other.close();

    await page.getByRole("button", { name: /Odrzuć/ }).click();
    await page.waitForURL(`${BASE}/platnosci/powrot**`);
    await page.locator('[data-testid="payment-status"][data-status="failed"]').waitFor({ timeout: 45_000 });
    await page.getByText(TEXT.failed).waitFor();
    check("a failed payment says so on the way back");
    await shot(page, "16-payment-4-failed");

    await page.getByRole("link", { name: "Wróć do faktur i rozliczeń" }).click();
    await heading(page, "Faktury i rozliczenia");
    await page.locator(`tr[data-invoice-status="${number}"]`).getByText(TEXT.failed).waitFor({ timeout: 30_000 });
    assert.equal(await pay.isDisabled(), false);
    check("after the failure the ZAPŁAĆ button is free again (try again)");
    await shot(page, "16-payment-5-retry");
    await pay.click();
    await page.waitForURL(`${SANDBOX}/pay/**`);
    await page.getByRole("button", { name: /Zapłać \(płatność udana\)/ }).click();
    await page.waitForURL(`${BASE}/platnosci/powrot**`);
    await page.locator('[data-testid="payment-status"][data-status="accepted"]').waitFor({ timeout: 45_000 });
    await page.getByText(TEXT.accepted).waitFor();
    check("the retried payment is accepted");
    await shot(page, "16-payment-6-accepted");

    const token = await apiLogin(ANNA.email, PASSWORD, "CL-TRANSBUD");
    for (let attempt = 0; ; attempt++) {
      const invoice = await api(`/api/billing/invoices/${invoiceId}`, { token });
      if (invoice.status === "paid") break;
      assert.ok(attempt < 100, `billing did not settle ${number}: ${invoice.status}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    await page.goto(`${BASE}/faktury`);
    await heading(page, "Faktury i rozliczenia");
    await row.getByText("Opłacona").waitFor();
    assert.equal(await row.getByRole("button", { name: "Zapłać" }).count(), 0);
    check("billing settled the invoice: it shows as paid, with nothing left to pay");
    await shot(page, "16-payment-7-paid");
  },

  async screens(page, context) {
    await login(page, ANNA.email);
    await ensureClient(page, TRANSBUD);
    await page.getByRole("link", { name: "Umowy", exact: true }).click();
    await heading(page, "Umowy");
    await shot(page, "07-contracts");
    await page.getByRole("link", { name: "UL/2025/0142", exact: true }).click();
    await heading(page, "Umowa UL/2025/0142");
    await page.getByRole("heading", { name: "Przedmiot umowy" }).waitFor();
    await page.getByRole("heading", { name: "Faktury do umowy" }).waitFor();
    await page.locator("tr[data-invoice]").first().waitFor();
    await shot(page, "08-contract-details");
    const firstInvoice = Object.keys(SEEDED.invoices)[0];
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: `Pobierz ${firstInvoice}` }).first().click(),
    ]);
    assert.match(download.suggestedFilename(), /\.pdf$/);
    check(`the invoice PDF downloads (${download.suggestedFilename()})`);
    await page.getByRole("link", { name: "Pokaż harmonogram spłaty", exact: true }).click();
    await heading(page, /Harmonogram spłaty umowy UL\/2025\/0142/);
    await page.getByText("Niezafakturowana").first().waitFor();
    await shot(page, "09-schedule");

    await page.getByRole("link", { name: "Faktury i rozliczenia", exact: true }).click();
    await heading(page, "Faktury i rozliczenia");
    const paid = Object.keys(SEEDED.invoices)[1];
    await page.locator(`tr[data-invoice="${paid}"]`).getByRole("button", { name: /Szczegóły rozliczenia/ }).click();
    await page.getByRole("heading", { name: "Szczegóły rozliczenia" }).waitFor();
    await page.getByText(`Wpłata — Zapłata ${paid}`).waitFor();
    check("settlement details show the payment that settled the invoice");
    const token = await apiLogin(ANNA.email, PASSWORD, "CL-TRANSBUD");
    const ids = Object.values(SEEDED.invoices).join(",");
    const statuses = await api(`/api/payments/invoices/status?ids=${encodeURIComponent(ids)}`, { token });
    for (const view of statuses.invoices) {
      const button = page.locator(`tr[data-invoice="${view.number}"]`).getByRole("button", { name: "Zapłać" });
      if (view.can_pay) await button.and(page.locator(":enabled")).waitFor();
      else assert.ok((await button.count()) === 0 || (await button.isDisabled()), `${view.number} may not be paid`);
    }
    check("each ZAPŁAĆ button is free or locked as the payments API says");
    await shot(page, "10-invoices");

    await page.getByRole("link", { name: "Dokumenty", exact: true }).click();
    await heading(page, "Dokumenty");
    await page.getByRole("rowheader", { name: /^NO\// }).waitFor();
    await page.getByRole("rowheader", { name: "Umowa leasingu UL/2025/0142" }).waitFor();
    const [doc] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Pobierz Umowa leasingu UL/2025/0142" }).click(),
    ]);
    assert.match(doc.suggestedFilename(), /\.pdf$/);
    check("interest notes and documents are listed; a document downloads");
    await shot(page, "11-documents");

    await page.getByRole("link", { name: "Mój profil", exact: true }).click();
    await heading(page, "Mój profil");
    await shot(page, "12-profile");
    await page.getByRole("button", { name: "Edytuj: Dane kontaktowe firmy" }).click();
    const dialog = page.getByRole("dialog", { name: "Edycja danych kontaktowych" });
    await dialog.getByLabel("Ulica i numer").fill("Prosta");
    await dialog.getByLabel("Numer budynku").fill("20");
    await dialog.getByLabel("Kod pocztowy").fill("00850");
    await dialog.getByLabel("Miejscowość").fill("Warszawa");
    await dialog.getByLabel("Numer telefonu").fill("22 555 01 02");
    await page.route("**/api/profile/company/contact", (route) => route.abort("internetdisconnected"));
    await dialog.getByRole("button", { name: "Zapisz" }).click();
    await dialog.getByText(/Brak połączenia z serwerem/).waitFor();
    assert.equal(await dialog.getByLabel("Miejscowość").inputValue(), "Warszawa");
    check("a lost connection is said plainly and nothing typed is lost");
    await shot(page, "12-profile-offline");
    await page.unroute("**/api/profile/company/contact");
    await page.route("**/api/profile/company/contact", (route) =>
      route.fulfill({ status: 503, contentType: "application/problem+json", body: JSON.stringify({ status: 503, code: "temporarily_unavailable" }) }),
    );
    await dialog.getByRole("button", { name: "Zapisz" }).click();
    await dialog.getByText(/chwilowo niedostępna/).waitFor();
    assert.equal(await dialog.getByLabel("Ulica i numer").inputValue(), "Prosta");
    check("a 5xx is said plainly and nothing typed is lost");
    await page.unroute("**/api/profile/company/contact");
    await dialog.getByRole("button", { name: "Zapisz" }).click();
    await dialog.getByText("Kod pocztowy ma format 00-000.").waitFor();
    check("the API's postal-code refusal shows in Polish next to the field");
    await shot(page, "12-profile-edit-company");
    await dialog.getByLabel("Kod pocztowy").fill("00-850");
    await dialog.getByRole("button", { name: "Zapisz" }).click();
    await page.getByText("Zmiany zostały zapisane.").waitFor();
    await page.getByText("00-850 Warszawa").waitFor();
    check("company contact data saved");
    await page.getByRole("button", { name: "Edytuj: Dane osoby zalogowanej" }).click();
    const person = page.getByRole("dialog", { name: "Edycja e-maila oraz numeru telefonu" });
    await person.getByLabel("Telefon kontaktowy").fill("601 111 222");
    await person.getByLabel("Stanowisko").fill("Główna księgowa");
    await shot(page, "12-profile-edit-person");
    await person.getByRole("button", { name: "Zapisz" }).click();
    await page.getByText("Główna księgowa").waitFor();
    await page.getByRole("button", { name: "Edytuj: E-faktura" }).click();
    const einvoice = page.getByRole("dialog", { name: "Edycja e-maila dla e-faktury" });
    await einvoice.getByLabel("E-mail do e-faktury").fill("faktury@transbud.example.pl");
    await shot(page, "12-profile-edit-einvoice");
    await einvoice.getByRole("button").filter({ hasText: /Zapisz|Włącz e-fakturę/ }).click();
    await page.getByText(/faktury@transbud\.example\.pl/).first().waitFor();
    check("the e-invoice address change asks for confirmation by e-mail");
    await shot(page, "12-profile-saved");
    await confirmEInvoice(page);

    await page.getByRole("link", { name: "Subkonta", exact: true }).click();
    await heading(page, "Subkonta");
    await page.getByRole("region", { name: "E-faktura" }).getByTestId("einvoice-email").filter({ hasText: "faktury@transbud.example.pl" }).waitFor();
    check("the sub-account page shows the confirmed e-invoice address");
    await shot(page, "13-subaccounts");

    await page.getByRole("button", { name: /^EN/ }).click();
    await page.getByRole("link", { name: "Home", exact: true }).click();
    await heading(page, /Hello, Anna/);
    check("the English catalogue switches the whole zone");
    await shot(page, "14-dashboard-en");
    await page.getByRole("button", { name: /^PL/ }).click();

    // A phone.
    const phone = await context.browser().newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      locale: "pl-PL",
      timezoneId: "Europe/Warsaw",
    });
    const mobile = await phone.newPage();
    await login(mobile, ANNA.email);
    await ensureClient(mobile, TRANSBUD);
    await shot(mobile, "15-mobile-dashboard");
    const width = await mobile.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `the page scrolls sideways on a phone (${width}px)`);
    await mobile.getByRole("link", { name: "Faktury i rozliczenia", exact: true }).click();
    await heading(mobile, "Faktury i rozliczenia");
    await shot(mobile, "15-mobile-invoices");
    const invoicesWidth = await mobile.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(invoicesWidth <= 390, `the invoices scroll sideways on a phone (${invoicesWidth}px)`);
    check("on a phone the dashboard and the invoices fit the screen's width");
    await mobile.goto(`${BASE}/aktywacja`);
    await heading(mobile, "Aktywacja konta");
    await shot(mobile, "15-mobile-activation");
    await phone.close();
  },
};

// Changing the login e-mail and the phone for SMS codes: the current password, then a confirmation
// sent to the new address (a link) or number (a code); every other session ends after the change.
scenarios.contact = async (page, context) => {
  const password = "Ewa-Haslo-Do-Strefy-31";
  const newEmail = "ewa.nowa@transbud.example.pl";
  const newPhone = { typed: "605 678 901", e164: "+48605678901" };
  await activeSubAccount(EWA, password, ["profile:read"]);
  await login(page, EWA.email, password);
  await page.getByRole("link", { name: "Mój profil", exact: true }).click();
  await heading(page, "Mój profil");
  await page.getByTestId("login-email").filter({ hasText: EWA.email }).waitFor();
  await shot(page, "17-contact-1-profile");

  // The login e-mail: a wrong current password is refused next to its field.
  await page.getByRole("button", { name: "Zmień e-mail logowania" }).click();
  const mail = page.getByRole("dialog", { name: "Zmień e-mail logowania" });
  await mail.getByLabel("Nowy adres e-mail").fill(newEmail);
  await mail.getByLabel(/^Obecne hasło/).fill("To-Nie-Jest-Haslo-Ewy-1");
  await mail.getByRole("button", { name: "Wyślij link" }).click();
  await mail.getByText("Obecne hasło jest nieprawidłowe.").waitFor();
  await expectFocusOn(page, "current_password");
  check("a wrong current password is refused in Polish next to its field");
  await shot(page, "17-contact-2-email-refused");
  const noticeBefore = await latestId(EWA.email, "contact_change_notice");
  await mail.getByLabel(/^Obecne hasło/).fill(password);
  await mail.getByRole("button", { name: "Wyślij link" }).click();
  await mail.getByText(`Sprawdź skrzynkę: na adres ${newEmail} wysłaliśmy link potwierdzający.`).waitFor();
  check("the change asks to check the new address's inbox");
  await shot(page, "17-contact-3-email-sent");
  await outbox(EWA.email, "contact_change_notice", noticeBefore);
  check("the current address is told about the change");
  const confirmation = await outbox(newEmail, "login_email_confirmation");
  const link = /(https?:\/\/[^\s"'<>]+\/potwierdz-email#token=[^\s"'<>]+)/.exec(
    confirmation.text + " " + (confirmation.html ?? ""),
  )?.[1];
  assert.ok(link?.startsWith(BASE), `no confirmation link in: ${confirmation.text}`);
  assert.equal(await loginStatus(newEmail, password), 401, "the new address logs in before it is confirmed");
  await mail.getByRole("button", { name: "Zamknij" }).first().click();

  // The link, opened on another device: the new address is the login from now on.
  const device = await context.browser().newContext({ locale: "pl-PL", timezoneId: "Europe/Warsaw" });
  const other = await device.newPage();
  const tokenRequests = []; // what a server, a proxy or a span's http.target would see: path and query
  other.on("request", (request) => {
    const sent = new URL(request.url());
    if ((sent.pathname + sent.search).includes("token=")) tokenRequests.push(sent.pathname + sent.search);
  });
  await other.goto(link.replaceAll("&amp;", "&"));
  await other.getByText("E-mail logowania został zmieniony.").waitFor();
  assert.ok(!other.url().includes("token="), "the link's token stays in the address bar");
  assert.deepEqual(tokenRequests, [], "the link's token reached a server in a URL");
  check("the e-mailed link confirms the new login e-mail (its token in the fragment, never sent to a server in a URL)");
  await shot(other, "17-contact-4-email-confirmed");
  await other.goto("about:blank"); // the same page again: not a jump within it to another fragment
  await other.goto(link.replaceAll("&amp;", "&"));
  await other.getByText(/Link jest nieprawidłowy, wygasł, został zastąpiony nowszym lub został już użyty\./).waitFor();
  check("the link works once");
  await shot(other, "17-contact-5-link-used");
  await other.getByRole("link", { name: "Zaloguj się" }).click();
  await login(other, newEmail, password);
  await heading(other, "Dzień dobry, Ewa");
  assert.equal(await loginStatus(EWA.email, password), 401, "the old address still logs in");
  check("the person logs in with the new e-mail; the old one no longer works");

  // The session that asked goes on and shows the new address.
  await page.reload();
  await heading(page, "Mój profil");
  await page.getByTestId("login-email").filter({ hasText: newEmail }).waitFor({ timeout: 30_000 });
  check("the session that asked for the change goes on and shows the new login e-mail");

  // The phone: the code from the SMS to the new number; a wrong one first, then a new one sent again.
  await page.getByRole("button", { name: "Zmień numer telefonu" }).click();
  const phone = page.getByRole("dialog", { name: "Zmień numer telefonu" });
  await phone.getByLabel("Nowy numer telefonu").fill(newPhone.typed);
  await phone.getByLabel(/^Obecne hasło/).fill(password);
  await shot(page, "17-contact-6-phone");
  await phone.getByRole("button", { name: "Wyślij kod" }).click();
  await phone.getByText(`Na numer ${newPhone.typed} wysłaliśmy SMS z kodem.`, { exact: false }).waitFor();
  const first = await outbox(newPhone.e164, "phone_change_code");
  const firstCode = /\b(\d{6})\b/.exec(first.text)?.[1];
  assert.ok(firstCode, `no 6-digit code in the SMS: ${first.text}`);
  await phone.getByLabel(/^Kod z SMS/).fill(firstCode === "000000" ? "111111" : "000000");
  await phone.getByRole("button", { name: "Potwierdź" }).click();
  await phone.getByText("Kod jest nieprawidłowy, wygasł lub został już użyty.").waitFor();
  check("a wrong SMS code is refused in Polish next to the field");
  await shot(page, "17-contact-7-code-refused");
  await phone.getByRole("button", { name: "Wyślij kod ponownie" }).click();
  await phone.getByText(`Na numer ${newPhone.typed} wysłaliśmy nowy kod.`, { exact: false }).waitFor();
  const second = await outbox(newPhone.e164, "phone_change_code", first.id);
  const code = /\b(\d{6})\b/.exec(second.text)?.[1];
  assert.ok(code, `no 6-digit code in the SMS: ${second.text}`);
  check(`the code is sent again to ${newPhone.e164} on request`);
  await phone.getByLabel(/^Kod z SMS/).fill(code);
  await phone.getByRole("button", { name: "Potwierdź" }).click();
  await page.getByText(/Numer telefonu do kodów SMS został zmieniony\./).waitFor();
  await page.getByTestId("sms-phone").filter({ hasText: newPhone.e164 }).waitFor();
  check("the phone for SMS codes changes once the code is entered");
  await shot(page, "17-contact-8-phone-changed");

  // Every other session ended: the other device is asked to log in again.
  await other.reload();
  await heading(other, "Logowanie");
  check("the other device's session ended with the change");
  await device.close();
  await page.reload();
  await heading(page, "Mój profil");
  check("this session goes on");
};

async function main() {
  const name = process.argv[2];
  const scenario = scenarios[name];
  if (!scenario) throw new Error(`no scenario ${name}; known: ${Object.keys(scenarios).join(", ")}`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    locale: "pl-PL",
    timezoneId: "Europe/Warsaw",
    acceptDownloads: true,
  });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error" && !/status of (4\d\d)/.test(message.text()) && !/ERR_INTERNET_DISCONNECTED|Failed to load resource/.test(message.text())) {
      errors.push(message.text());
    }
  });
  try {
    await scenario(page, context);
    assert.deepEqual(errors, [], "errors in the page's console");
    assert.ok(screensAudited > 0, "no screen was checked by axe-core");
    check(`axe-core found no WCAG 2.1 A/AA violation on ${screensAudited} screens`);
    console.log(JSON.stringify(report));
  } catch (error) {
    await page.screenshot({ path: path.join(SHOTS, `FAILED-${name}.png`), fullPage: true }).catch(() => undefined);
    console.log(JSON.stringify(report));
    console.error(error);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

await main();
