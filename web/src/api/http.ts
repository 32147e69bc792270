/**
 * The one way the portal talks to the gateway.
 *
 * The access token lives in this module's memory only (never in storage a script could read
 * later); it is short-lived and renewed through identity's refresh endpoint, whose token is an
 * HttpOnly cookie scoped to /api/identity. Every failure becomes an ApiError carrying the RFC 9457
 * problem the API answered, or the kind of failure when there was none (lost connection, 5xx).
 */

export interface FieldProblem {
  field: string;
  message: string;
  code: string;
}

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  code?: string;
  detail?: string;
  instance?: string;
  errors?: FieldProblem[];
}

export type ErrorKind = "network" | "server" | "unauthenticated" | "forbidden" | "not_found" | "conflict" | "client";

export class ApiError extends Error {
  readonly kind: ErrorKind;
  readonly status: number;
  readonly problem: Problem | null;
  readonly correlationId: string | null;

  constructor(kind: ErrorKind, status: number, problem: Problem | null, correlationId: string | null = null) {
    super(problem?.detail ?? problem?.title ?? `${kind} (${status})`);
    this.name = "ApiError";
    this.kind = kind;
    this.status = status;
    this.problem = problem;
    this.correlationId = correlationId;
  }

  get code(): string | undefined {
    return this.problem?.code;
  }
}

export function kindOf(status: number): ErrorKind {
  if (status === 0) return "network";
  if (status === 401) return "unauthenticated";
  if (status === 403) return "forbidden";
  if (status === 404) return "not_found";
  if (status === 409) return "conflict";
  if (status >= 500) return "server";
  return "client";
}

// ---- the access token, in memory only ----

let accessToken: string | null = null;
let refreshHandler: (() => Promise<string | null>) | null = null;
let refreshing: Promise<string | null> | null = null;
const expiredListeners = new Set<() => void>();

export function setAccessToken(token: string | null): void {
  accessToken = token;
}

export function getAccessToken(): string | null {
  return accessToken;
}

/** How to get a new access token when the current one is refused (identity's refresh call). */
export function setRefreshHandler(handler: (() => Promise<string | null>) | null): void {
  refreshHandler = handler;
}

/** Called when the session is gone for good (refresh refused): the app shows the login page. */
export function onSessionExpired(listener: () => void): () => void {
  expiredListeners.add(listener);
  return () => expiredListeners.delete(listener);
}

/** One refresh at a time, however many requests were refused meanwhile. */
export function refreshAccessToken(): Promise<string | null> {
  if (!refreshHandler) return Promise.resolve(null);
  if (!refreshing) {
    const handler = refreshHandler;
    refreshing = handler()
      .catch(() => null)
      .then((token) => {
        accessToken = token;
        return token;
      })
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

// ---- requests ----

export type Query = Record<string, string | number | boolean | null | undefined | readonly string[]>;

export interface RequestOptions {
  query?: Query;
  json?: unknown;
  form?: FormData;
  signal?: AbortSignal;
  /** Send the bearer token (default) and renew it once on 401. */
  auth?: boolean;
  headers?: Record<string, string>;
}

export function buildUrl(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === null || value === undefined || value === "") continue;
    if (Array.isArray(value)) for (const item of value) params.append(key, item);
    else params.append(key, String(value));
  }
  const search = params.toString();
  return search ? `${path}${path.includes("?") ? "&" : "?"}${search}` : path;
}

async function readProblem(response: Response): Promise<Problem | null> {
  const type = response.headers.get("content-type") ?? "";
  if (!type.includes("json")) return null;
  try {
    const body = (await response.json()) as Partial<Problem>;
    if (body && typeof body === "object") return { ...body, status: body.status ?? response.status };
  } catch {
    /* not JSON after all */
  }
  return null;
}

async function send(method: string, path: string, options: RequestOptions, retried = false): Promise<Response> {
  const auth = options.auth ?? true;
  const headers: Record<string, string> = { Accept: "application/json, application/problem+json", ...options.headers };
  let body: BodyInit | undefined;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.form) {
    body = options.form;
  }
  if (auth && accessToken) headers.Authorization = `Bearer ${accessToken}`;
  let response: Response;
  try {
    response = await fetch(buildUrl(path, options.query), {
      method,
      headers,
      body,
      signal: options.signal,
      credentials: "same-origin",
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError("network", 0, null);
  }
  if (response.status === 401 && auth && !retried) {
    const token = await refreshAccessToken();
    if (token) return send(method, path, options, true);
    for (const listener of expiredListeners) listener();
  }
  if (!response.ok) {
    const problem = await readProblem(response);
    throw new ApiError(kindOf(response.status), response.status, problem, response.headers.get("x-correlation-id"));
  }
  return response;
}

async function parse<T>(response: Response): Promise<T> {
  if (response.status === 204) return undefined as T;
  const type = response.headers.get("content-type") ?? "";
  if (!type.includes("json")) return (await response.text()) as T;
  return (await response.json()) as T;
}

export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  return parse<T>(await send(method, path, options));
}

export interface Page<T> {
  items: T[];
  total: number | null;
}

/** A list answer; the total comes from X-Total-Count when the API sends it. */
export async function requestPage<T>(path: string, options: RequestOptions = {}): Promise<Page<T>> {
  const response = await send("GET", path, options);
  const body = await parse<T[] | { items: T[]; total?: number }>(response);
  const header = response.headers.get("x-total-count");
  if (Array.isArray(body)) return { items: body, total: header ? Number(header) : null };
  return { items: body.items ?? [], total: body.total ?? (header ? Number(header) : null) };
}

export const http = {
  get: <T>(path: string, options?: RequestOptions) => request<T>("GET", path, options),
  post: <T>(path: string, json?: unknown, options?: RequestOptions) => request<T>("POST", path, { ...options, json }),
  put: <T>(path: string, json?: unknown, options?: RequestOptions) => request<T>("PUT", path, { ...options, json }),
  patch: <T>(path: string, json?: unknown, options?: RequestOptions) => request<T>("PATCH", path, { ...options, json }),
  delete: <T>(path: string, options?: RequestOptions) => request<T>("DELETE", path, options),
  postForm: <T>(path: string, form: FormData, options?: RequestOptions) => request<T>("POST", path, { ...options, form }),
};

/** The file name from a Content-Disposition header (RFC 6266, filename* first). */
export function fileNameFrom(disposition: string | null, fallback: string): string {
  if (!disposition) return fallback;
  const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(disposition);
  if (star) {
    try {
      return decodeURIComponent(star[1].trim().replace(/^"|"$/g, ""));
    } catch {
      /* fall through */
    }
  }
  const plain = /filename\s*=\s*"?([^";]+)"?/.exec(disposition);
  return plain ? plain[1].trim() : fallback;
}

/**
 * Downloads a protected file (a PDF): fetched with the bearer token, handed to the browser as a
 * blob URL, so no token ever appears in a link.
 */
export async function download(path: string, fallbackName: string): Promise<string> {
  const response = await send("GET", path, { headers: { Accept: "application/pdf, application/octet-stream, */*" } });
  const blob = await response.blob();
  const name = fileNameFrom(response.headers.get("content-disposition"), fallbackName);
  const url = URL.createObjectURL(blob);
  try {
    const link = document.createElement("a");
    link.href = url;
    link.download = name;
    link.rel = "noopener";
    document.body.appendChild(link);
    link.click();
    link.remove();
  } finally {
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
  return name;
}
