import { describe, expect, it } from "vitest";
import { en } from "./en";
import { translate } from "./index";
import { pl } from "./pl";

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();

describe("catalogues", () => {
  it("pl and en have the same keys", () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(pl).sort());
  });

  it("every text is filled in", () => {
    for (const [key, text] of [...Object.entries(pl), ...Object.entries(en)]) {
      expect(text.trim(), key).not.toBe("");
    }
  });

  it("pl and en use the same placeholders in each text", () => {
    for (const key of Object.keys(pl) as Array<keyof typeof pl>) {
      expect(placeholders(en[key]), key).toEqual(placeholders(pl[key]));
    }
  });

  it("keeps the client zone's wording of the payment statuses", () => {
    expect(pl["payment.status.in_progress"]).toBe(
      "Płatność została rozpoczęta. Na czas realizacji przycisk ZAPŁAĆ został zablokowany.",
    );
    expect(pl["payment.status.accepted"]).toBe("Płatność została przyjęta, trwa rozliczenie.");
    expect(pl["payment.status.failed"]).toBe("Płatność nie powiodła się. Spróbuj ponownie.");
    expect(pl["payment.status.not_started"]).toBe("Oczekiwanie na rozpoczęcie płatności.");
    expect(pl["payment.status.unavailable"]).toBe("Funkcja płatności jest chwilowo niedostępna.");
  });

  it("fills placeholders", () => {
    expect(translate("pl", "common.page_of", { page: 2, pages: 5 })).toBe("Strona 2 z 5");
    expect(translate("en", "common.page_of", { page: 2, pages: 5 })).toBe("Page 2 of 5");
    expect(translate("pl", "common.page_of")).toBe("Strona {page} z {pages}");
  });
});
