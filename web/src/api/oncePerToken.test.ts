import { describe, expect, it, vi } from "vitest";
import { oncePerToken } from "./oncePerToken";

describe("oncePerToken", () => {
  it("posts a token once, however often it is asked, and gives every caller the same answer", async () => {
    const post = vi.fn((token: string) => Promise.resolve(`confirmed ${token}`));
    const confirm = oncePerToken(post);
    expect(await confirm("abc")).toBe("confirmed abc");
    expect(await confirm("abc")).toBe("confirmed abc");
    expect(await confirm("def")).toBe("confirmed def");
    expect(post.mock.calls).toEqual([["abc"], ["def"]]);
  });

  it("never posts a token again after a refusal, unless the failure left no verdict", async () => {
    const refused = new Error("used link");
    const offline = new Error("offline");
    const post = vi
      .fn<(token: string) => Promise<string>>()
      .mockRejectedValueOnce(refused)
      .mockRejectedValueOnce(offline)
      .mockResolvedValueOnce("confirmed");
    const confirm = oncePerToken(post, (error) => error === offline);
    await expect(confirm("used")).rejects.toBe(refused);
    await expect(confirm("used")).rejects.toBe(refused);
    await expect(confirm("fresh")).rejects.toBe(offline);
    expect(await confirm("fresh")).toBe("confirmed");
    expect(post.mock.calls).toEqual([["used"], ["fresh"], ["fresh"]]);
  });

  it("posts nothing without a token", async () => {
    const post = vi.fn((token: string) => Promise.resolve(token));
    await expect(oncePerToken(post)(null)).rejects.toThrow("no token");
    expect(post).not.toHaveBeenCalled();
  });
});
