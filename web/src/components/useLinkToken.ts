import { useEffect, useState } from "react";

const fragment = () => new URLSearchParams(window.location.hash.replace(/^#/, ""));
const query = () => new URLSearchParams(window.location.search);

/**
 * The token of an e-mailed link: in the fragment (`#token=…`), which the browser never sends to a
 * server (no access or proxy log, no Referer); links e-mailed before it moved there carry it in the
 * query (`?token=…`) and work until they expire.
 */
function readLinkToken(): string | null {
  return fragment().get("token") ?? query().get("token");
}

/**
 * The page's link token, read once and kept in memory; the address bar keeps only the path, so the
 * token is in no history entry, bookmark or screenshot, nor in the Referer of a later request.
 */
export function useLinkToken(): string | null {
  const [token] = useState(readLinkToken);
  useEffect(() => {
    if (fragment().has("token") || query().has("token")) {
      window.history.replaceState(window.history.state, "", window.location.pathname);
    }
  }, []);
  return token;
}
