import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { onSessionExpired, refreshAccessToken, setAccessToken, setRefreshHandler } from "../api/http";
import { identityApi, type Me } from "../api/identity";

export type SessionStatus = "loading" | "anonymous" | "authenticated";

interface Session {
  status: SessionStatus;
  me: Me | null;
  /** Set when the session ended by itself (expired, revoked), for the login page to say so. */
  expired: boolean;
  login: (email: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
  switchClient: (clientId: string) => Promise<void>;
  reloadMe: () => Promise<void>;
  can: (scope: string) => boolean;
}

const SessionContext = createContext<Session | null>(null);

/**
 * The refresh call: identity answers a new access token from its HttpOnly refresh cookie, and
 * rotates the cookie. Identity ends a session whose refresh token is presented twice, so two tabs
 * must not refresh at once with the same cookie: a Web Lock makes them take turns (the second
 * then presents the cookie the first one got).
 */
async function refreshOnce(): Promise<string | null> {
  const call = async () => (await identityApi.refresh()).access_token ?? null;
  const locks = typeof navigator !== "undefined" ? (navigator as Navigator & { locks?: LockManager }).locks : undefined;
  return locks ? locks.request("strefa-klienta-refresh", call) : call();
}

setRefreshHandler(refreshOnce);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<SessionStatus>("loading");
  const [me, setMe] = useState<Me | null>(null);
  const [expired, setExpired] = useState(false);

  const loadMe = useCallback(async () => {
    const profile = await identityApi.me();
    setMe(profile);
    setStatus("authenticated");
  }, []);

  // A page load: the access token is gone with the old page; the refresh cookie may still hold.
  useEffect(() => {
    let alive = true;
    refreshAccessToken()
      .then(async (token) => {
        if (!alive) return;
        if (!token) {
          setStatus("anonymous");
          return;
        }
        try {
          await loadMe();
        } catch {
          if (alive) setStatus("anonymous");
        }
      })
      .catch(() => alive && setStatus("anonymous"));
    return () => {
      alive = false;
    };
  }, [loadMe]);

  useEffect(
    () =>
      onSessionExpired(() => {
        setAccessToken(null);
        setMe(null);
        setExpired(true);
        setStatus("anonymous");
      }),
    [],
  );

  const login = useCallback(
    async (email: string, password: string) => {
      const answer = await identityApi.login(email, password);
      setAccessToken(answer.access_token);
      setExpired(false);
      await loadMe();
    },
    [loadMe],
  );

  const logout = useCallback(async () => {
    try {
      await identityApi.logout();
    } catch {
      /* the session ends here whatever the server said */
    }
    setAccessToken(null);
    setMe(null);
    setExpired(false);
    setStatus("anonymous");
  }, []);

  const switchClient = useCallback(
    async (clientId: string) => {
      const answer = await identityApi.switchClient(clientId);
      setAccessToken(answer.access_token);
      await loadMe();
    },
    [loadMe],
  );

  const can = useCallback((scope: string) => Boolean(me?.scopes.includes(scope)), [me]);

  const value = useMemo<Session>(
    () => ({ status, me, expired, login, logout, switchClient, reloadMe: loadMe, can }),
    [status, me, expired, login, logout, switchClient, loadMe, can],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside SessionProvider");
  return session;
}
