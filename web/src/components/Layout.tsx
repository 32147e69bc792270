import { useEffect, useRef, useState, type ReactNode } from "react";
import { NavLink, Outlet, useLocation, useNavigate } from "react-router";
import { clientName } from "../api/identity";
import { useSession } from "../auth/session";
import { LANGS, useI18n, type MessageKey } from "../i18n";


interface Tab {
  to: string;
  label: MessageKey;
  scopes: string[];
  end?: boolean;
}

export const TABS: Tab[] = [
  { to: "/", label: "nav.dashboard", scopes: [], end: true },
  { to: "/umowy", label: "nav.contracts", scopes: ["contracts:read"] },
  { to: "/faktury", label: "nav.invoices", scopes: ["invoices:read"] },
  { to: "/dokumenty", label: "nav.documents", scopes: ["documents:read"] },
  { to: "/wnioski", label: "nav.requests", scopes: ["requests:read", "requests:create"] },
  { to: "/profil", label: "nav.profile", scopes: ["profile:read"] },
  { to: "/subkonta", label: "nav.subaccounts", scopes: ["subaccounts:manage"] },
];

export function LanguageSwitch() {
  const { lang, setLang, t } = useI18n();
  return (
    <div className="lang-switch" role="group" aria-label={t("lang.label")}>
      {LANGS.map((code) => (
        <button
          key={code}
          type="button"
          className="lang-switch__button"
          aria-pressed={lang === code}
          lang={code}
          onClick={() => setLang(code)}
        >
          {code.toUpperCase()}
          <span className="visually-hidden"> {t(code === "pl" ? "lang.pl" : "lang.en")}</span>
        </button>
      ))}
    </div>
  );
}

function ClientSwitch() {
  const { me, switchClient } = useSession();
  const { t } = useI18n();
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (!me) return null;
  if (me.clients.length < 2) {
    return (
      <p className="client-name">
        <span className="muted">{t("context.client")}:</span> <strong>{clientName(me)}</strong>
      </p>
    );
  }
  return (
    <div className="client-switch">
      <label htmlFor="client-switch">{t("context.switch")}</label>
      <select
        id="client-switch"
        name="client"
        value={me.client.client_id}
        disabled={busy}
        onChange={(event) => {
          const clientId = event.target.value;
          setBusy(true);
          setError(null);
          switchClient(clientId)
            .then(() => navigate("/"))
            .catch(() => setError(t("context.switch_failed")))
            .finally(() => setBusy(false));
        }}
      >
        {me.clients.map((client) => (
          <option key={client.client_id} value={client.client_id}>
            {client.name || client.client_id}
          </option>
        ))}
      </select>
      {error ? (
        <p className="field__error" role="alert">
          {error}
        </p>
      ) : null}
    </div>
  );
}

function Header() {
  const { me, logout } = useSession();
  const { t } = useI18n();
  const navigate = useNavigate();
  return (
    <header className="topbar">
      <div className="topbar__inner">
        <a className="brand" href="/" onClick={(event) => (event.preventDefault(), navigate("/"))}>
          <span className="brand__mark" aria-hidden="true">
            SK
          </span>
          <span className="brand__name">{t("app.name")}</span>
        </a>
        <div className="topbar__tools">
          <ClientSwitch />
          <LanguageSwitch />
          {me ? (
            <div className="user">
              <span className="user__name">
                {me.first_name} {me.last_name}
              </span>
              <button
                type="button"
                className="button button--ghost"
                onClick={() => void logout().then(() => navigate("/logowanie"))}
              >
                {t("nav.logout")}
              </button>
            </div>
          ) : null}
        </div>
      </div>
    </header>
  );
}

function Tabs() {
  const { can } = useSession();
  const { t } = useI18n();
  const visible = TABS.filter((tab) => tab.scopes.length === 0 || tab.scopes.some(can));
  return (
    <nav className="tabs" aria-label={t("nav.label")}>
      <ul className="tabs__list">
        {visible.map((tab) => (
          <li key={tab.to}>
            <NavLink to={tab.to} end={tab.end} className={({ isActive }) => `tabs__link${isActive ? " is-active" : ""}`}>
              {t(tab.label)}
            </NavLink>
          </li>
        ))}
      </ul>
    </nav>
  );
}

export function Footer() {
  const { t } = useI18n();
  return (
    <footer className="footer">
      <p>
        {t("footer.help")} <a href="tel:+48327456456">32 745 64 56</a> · <a href="mailto:dok@aliorleasing.pl">dok@aliorleasing.pl</a>
      </p>
    </footer>
  );
}

/** Moves focus to the new page's heading after navigation, so screen readers announce it. */
function useFocusOnNavigate(ref: React.RefObject<HTMLElement | null>) {
  const location = useLocation();
  const { t } = useI18n();
  const lastPath = useRef(location.pathname);
  useEffect(() => {
    // Focus moves only when the screen changed, not on the first load nor on a language switch.
    const moved = lastPath.current !== location.pathname;
    lastPath.current = location.pathname;
    let tries = 0;
    let timer = 0;
    const settle = () => {
      const heading = ref.current?.querySelector<HTMLElement>("[data-page-title]");
      if (heading && heading.textContent) {
        // The window's title names the screen too (browser tabs, history, screen readers).
        document.title = `${heading.textContent} · ${t("app.name")}`;
        if (moved) heading.focus();
      } else if (tries++ < 40) {
        timer = window.setTimeout(settle, 50);
      }
    };
    settle();
    return () => window.clearTimeout(timer);
  }, [location.pathname, ref, t]);
}

export function AppLayout({ children }: { children?: ReactNode }) {
  const main = useRef<HTMLElement>(null);
  const { t } = useI18n();
  useFocusOnNavigate(main);
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        {t("nav.skip")}
      </a>
      <Header />
      <Tabs />
      <main id="main" ref={main} className="main" tabIndex={-1}>
        {children ?? <Outlet />}
      </main>
      <Footer />
    </div>
  );
}

/** The frame of the pages before login: activation, login. */
export function PublicLayout({ children }: { children: ReactNode }) {
  const { t } = useI18n();
  return (
    <div className="shell shell--public">
      <a className="skip-link" href="#main">
        {t("nav.skip")}
      </a>
      <header className="topbar">
        <div className="topbar__inner">
          <span className="brand">
            <span className="brand__mark" aria-hidden="true">
              SK
            </span>
            <span className="brand__name">{t("app.name")}</span>
          </span>
          <div className="topbar__tools">
            <LanguageSwitch />
          </div>
        </div>
      </header>
      <main id="main" className="main main--narrow" tabIndex={-1}>
        {children}
      </main>
      <Footer />
    </div>
  );
}
