import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError, buildUrl, fileNameFrom, getAccessToken, http, onSessionExpired, setAccessToken, setRefreshHandler } from "./http";

function answer(status: number, body: unknown, type = "application/json"): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { "content-type": type } });
}

let fetchMock: ReturnType<typeof vi.fn>;

beforeEach(() => {
  fetchMock = vi.fn();
  vi.stubGlobal("fetch", fetchMock);
  setAccessToken("old-token");
});

afterEach(() => {
  vi.unstubAllGlobals();
  setRefreshHandler(null);
  setAccessToken(null);
});

describe("the access token", () => {
  it("goes in the Authorization header, never in the URL", async () => {
    fetchMock.mockResolvedValueOnce(answer(200, { ok: true }));
    await http.get("/api/contracts/contracts", { query: { q: "Škoda" } });
    const [url, init] = fetchMock.mock.calls[0];
    expect(url).toBe("/api/contracts/contracts?q=%C5%A0koda");
    expect(init.headers.Authorization).toBe("Bearer old-token");
    expect(init.credentials).toBe("same-origin");
  });

  it("is renewed once on 401 and the call is repeated, however many calls were refused", async () => {
    const refresh = vi.fn(async () => "new-token");
    setRefreshHandler(refresh);
    fetchMock.mockImplementation(async (_url: string, init: RequestInit) => {
      const auth = (init.headers as Record<string, string>).Authorization;
      return auth === "Bearer new-token" ? answer(200, { ok: true }) : answer(401, { status: 401 }, "application/problem+json");
    });
    const results = await Promise.all([http.get("/api/a"), http.get("/api/b"), http.get("/api/c")]);
    expect(results).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(getAccessToken()).toBe("new-token");
  });

  it("ends the session when the refresh is refused", async () => {
    setRefreshHandler(async () => null);
    const expired = vi.fn();
    const stop = onSessionExpired(expired);
    fetchMock.mockResolvedValue(answer(401, { status: 401, code: "invalid_token" }, "application/problem+json"));
    await expect(http.get("/api/billing/dashboard")).rejects.toMatchObject({ kind: "unauthenticated", status: 401 });
    expect(expired).toHaveBeenCalledTimes(1);
    stop();
  });
});

describe("failures", () => {
  it("a lost connection is an ApiError of kind network", async () => {
    fetchMock.mockRejectedValueOnce(new TypeError("Failed to fetch"));
    const error = await http.get("/api/x").catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).kind).toBe("network");
  });

  it("a 5xx without a problem body (a proxy's HTML page) is an ApiError of kind server", async () => {
    fetchMock.mockResolvedValueOnce(new Response("<html>Bad gateway</html>", { status: 502, headers: { "content-type": "text/html" } }));
    const error = (await http.get("/api/x").catch((failure: unknown) => failure)) as ApiError;
    expect(error.kind).toBe("server");
    expect(error.problem).toBeNull();
  });

  it("keeps the problem and the correlation id", async () => {
    fetchMock.mockResolvedValueOnce(
      new Response(JSON.stringify({ status: 422, code: "validation_failed", errors: [{ field: "email", message: "x", code: "missing" }] }), {
        status: 422,
        headers: { "content-type": "application/problem+json", "x-correlation-id": "c0ffee" },
      }),
    );
    const error = (await http.post("/api/x", {}).catch((failure: unknown) => failure)) as ApiError;
    expect(error.code).toBe("validation_failed");
    expect(error.problem?.errors?.[0].field).toBe("email");
    expect(error.correlationId).toBe("c0ffee");
  });
});

describe("helpers", () => {
  it("builds query strings, leaving out empty values and repeating lists", () => {
    expect(buildUrl("/api/x", { a: "1", b: undefined, c: "", d: null, ids: ["p", "q"] })).toBe("/api/x?a=1&ids=p&ids=q");
  });

  it("reads file names from Content-Disposition, filename* first", () => {
    expect(fileNameFrom(`attachment; filename="faktura.pdf"`, "x.pdf")).toBe("faktura.pdf");
    expect(fileNameFrom(`attachment; filename="a_b.pdf"; filename*=UTF-8''za%C5%82%C4%85cznik.pdf`, "x")).toBe("załącznik.pdf");
    expect(fileNameFrom(null, "x.pdf")).toBe("x.pdf");
  });
});
