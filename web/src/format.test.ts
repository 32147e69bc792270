import { describe, expect, it } from "vitest";
import {
  formatAccount,
  formatDate,
  formatDateTime,
  formatMoney,
  fromGrosze,
  isPositive,
  sumMoney,
  toGrosze,
  warsawToday,
} from "./format";

const NBSP = "\u00a0";

describe("formatMoney", () => {
  it("groups thousands and puts zł after a non-breaking space", () => {
    expect(formatMoney("1234.56")).toBe(`1${NBSP}234,56${NBSP}zł`);
  });

  it("groups every amount from four digits on (Polish CLDR would not)", () => {
    expect(formatMoney("1000")).toBe(`1${NBSP}000,00${NBSP}zł`);
    expect(formatMoney("1234567.8")).toBe(`1${NBSP}234${NBSP}567,80${NBSP}zł`);
  });

  it("uses only non-breaking spaces, never a plain one", () => {
    const text = formatMoney("98765.43");
    expect(text).not.toContain(" ");
    expect([...text].filter((char) => char === NBSP)).toHaveLength(2);
  });

  it("keeps small amounts and zero", () => {
    expect(formatMoney("0")).toBe(`0,00${NBSP}zł`);
    expect(formatMoney("0.01")).toBe(`0,01${NBSP}zł`);
    expect(formatMoney("999.99")).toBe(`999,99${NBSP}zł`);
  });

  it("shows negative amounts (credit notes) with a minus", () => {
    expect(formatMoney("-1234.50")).toBe(`-1${NBSP}234,50${NBSP}zł`);
  });

  it("formats decimal strings exactly, beyond float precision", () => {
    expect(formatMoney("90071992547409.91")).toBe(`90${NBSP}071${NBSP}992${NBSP}547${NBSP}409,91${NBSP}zł`);
  });

  it("shows a dash for a missing amount and leaves a non-number as it is", () => {
    expect(formatMoney(null)).toBe("—");
    expect(formatMoney(undefined)).toBe("—");
    expect(formatMoney("n/a")).toBe("n/a");
  });

  it("formats other currencies the Polish way", () => {
    expect(formatMoney("1234.5", "EUR")).toBe(`1${NBSP}234,50${NBSP}€`);
  });
});

describe("formatDate", () => {
  it("turns an ISO date into DD.MM.YYYY without touching time zones", () => {
    expect(formatDate("2026-11-25")).toBe("25.11.2026");
    expect(formatDate("2027-01-05")).toBe("05.01.2027");
  });

  it("shows an instant as its date in Warsaw", () => {
    expect(formatDate("2026-11-24T23:30:00Z")).toBe("25.11.2026");
    expect(formatDate("2026-07-31T22:30:00+00:00")).toBe("01.08.2026");
  });

  it("shows a dash for nothing", () => {
    expect(formatDate(null)).toBe("—");
    expect(formatDate("")).toBe("—");
  });

  it("formats date and time in Warsaw", () => {
    expect(formatDateTime("2026-11-25T13:05:00Z")).toBe("25.11.2026, 14:05");
  });
});

describe("money arithmetic in grosze", () => {
  it("adds decimal strings exactly", () => {
    expect(sumMoney(["0.10", "0.20"])).toBe("0.30");
    expect(sumMoney(["1234.56", "-34.56", "1"])).toBe("1201.00");
    expect(sumMoney([])).toBe("0.00");
  });

  it("converts both ways", () => {
    expect(toGrosze("12.3")).toBe(1230n);
    expect(toGrosze("-0.05")).toBe(-5n);
    expect(fromGrosze(-5n)).toBe("-0.05");
    expect(() => toGrosze("1.234")).toThrow();
  });

  it("tells a positive amount", () => {
    expect(isPositive("0.01")).toBe(true);
    expect(isPositive("0.00")).toBe(false);
    expect(isPositive("-5.00")).toBe(false);
    expect(isPositive(null)).toBe(false);
  });
});

describe("account numbers and today", () => {
  it("groups a 26-digit NRB", () => {
    expect(formatAccount("61109010140000071219812874")).toBe("61 1090 1014 0000 0712 1981 2874");
    expect(formatAccount("PL61109010140000071219812874")).toBe("PL61 1090 1014 0000 0712 1981 2874");
    expect(formatAccount("123")).toBe("123");
  });

  it("knows today's date in Warsaw", () => {
    expect(warsawToday(new Date("2026-11-24T23:30:00Z"))).toBe("2026-11-25");
    expect(warsawToday(new Date("2026-03-29T21:59:00Z"))).toBe("2026-03-29");
    expect(warsawToday(new Date("2026-03-29T22:00:00Z"))).toBe("2026-03-30");
  });
});
