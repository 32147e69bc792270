/** Polish formats of the client zone: amounts "1 234,56 zł", dates "25.11.2026" (Europe/Warsaw). */

export type Lang = "pl" | "en";

const money = new Map<string, Intl.NumberFormat>();

function moneyFormat(currency: string): Intl.NumberFormat {
  let format = money.get(currency);
  if (!format) {
    // Polish CLDR data groups only from five digits on ("1234,56 zł"); the client zone groups
    // every amount ("1 234,56 zł"), so grouping is forced. Separators are U+00A0.
    format = new Intl.NumberFormat("pl-PL", { style: "currency", currency, useGrouping: "always" });
    money.set(currency, format);
  }
  return format;
}

const DECIMAL = /^-?\d+(\.\d+)?$/;

/**
 * An amount as the API sends it (a decimal string, never a float) in Polish format.
 * The string is handed to Intl as it is, so no binary rounding happens on the way.
 */
export function formatMoney(amount: string | number | null | undefined, currency = "PLN"): string {
  if (amount === null || amount === undefined || amount === "") return "—";
  const value = typeof amount === "number" ? amount : amount.trim();
  if (typeof value === "string" && !DECIMAL.test(value)) return value;
  return moneyFormat(currency).format(value as Intl.StringNumericLiteral);
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

const warsawDate = new Intl.DateTimeFormat("pl-PL", {
  timeZone: "Europe/Warsaw",
  day: "2-digit",
  month: "2-digit",
  year: "numeric",
});

const warsawDateTime = new Intl.DateTimeFormat("pl-PL", {
  timeZone: "Europe/Warsaw",
  day: "2-digit",
  month: "2-digit",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});

/** "2026-11-25" -> "25.11.2026"; an instant ("2026-11-24T23:30:00Z") is shown as the Warsaw date. */
export function formatDate(value: string | null | undefined): string {
  if (!value) return "—";
  const plain = ISO_DATE.exec(value);
  if (plain) return `${plain[3]}.${plain[2]}.${plain[1]}`;
  const instant = new Date(value);
  if (Number.isNaN(instant.getTime())) return value;
  return warsawDate.format(instant);
}

/** An instant as "25.11.2026, 14:05" in Warsaw time. */
export function formatDateTime(value: string | null | undefined): string {
  if (!value) return "—";
  const instant = new Date(value);
  if (Number.isNaN(instant.getTime())) return value;
  return warsawDateTime.format(instant);
}

/** Whether a decimal string is above zero, without floats. */
export function isPositive(amount: string | null | undefined): boolean {
  if (!amount) return false;
  const value = amount.trim();
  if (!DECIMAL.test(value) || value.startsWith("-")) return false;
  return /[1-9]/.test(value);
}

/** Sum of decimal strings, exact in grosze (BigInt), returned as a decimal string with 2 places. */
export function sumMoney(amounts: Iterable<string>): string {
  let total = 0n;
  for (const amount of amounts) total += toGrosze(amount);
  return fromGrosze(total);
}

export function toGrosze(amount: string): bigint {
  const value = amount.trim();
  if (!DECIMAL.test(value)) throw new Error(`not a decimal amount: ${amount}`);
  const negative = value.startsWith("-");
  const [whole, fraction = ""] = value.replace("-", "").split(".");
  if (fraction.length > 2 && /[1-9]/.test(fraction.slice(2))) {
    throw new Error(`more than 2 decimal places: ${amount}`);
  }
  const grosze = BigInt(whole) * 100n + BigInt((fraction + "00").slice(0, 2));
  return negative ? -grosze : grosze;
}

export function fromGrosze(grosze: bigint): string {
  const negative = grosze < 0n;
  const abs = negative ? -grosze : grosze;
  const whole = abs / 100n;
  const fraction = (abs % 100n).toString().padStart(2, "0");
  return `${negative ? "-" : ""}${whole}.${fraction}`;
}

/** File sizes for attachments: "1,5 MB". */
export function formatFileSize(bytes: number): string {
  const format = new Intl.NumberFormat("pl-PL", { maximumFractionDigits: 1 });
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${format.format(bytes / 1024)} KB`;
  return `${format.format(bytes / (1024 * 1024))} MB`;
}

/** A Polish account number (NRB, 26 digits) in its usual groups: "12 3456 7890 1234 5678 9012 3456". */
export function formatAccount(value: string): string {
  const digits = value.replace(/\s+/g, "");
  const match = /^(PL)?(\d{26})$/i.exec(digits);
  if (!match) return value;
  const nrb = match[2];
  const groups = [nrb.slice(0, 2), ...(nrb.slice(2).match(/.{4}/g) ?? [])];
  return (match[1] ? "PL" : "") + groups.join(" ");
}

/** Today's date in Warsaw as "YYYY-MM-DD" (what the API calls today). */
export function warsawToday(now: Date = new Date()): string {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: "Europe/Warsaw",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).formatToParts(now);
  const part = (type: string) => parts.find((item) => item.type === type)?.value ?? "";
  return `${part("year")}-${part("month")}-${part("day")}`;
}
