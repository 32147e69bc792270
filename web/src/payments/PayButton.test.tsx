import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { payButtonLocked, type PaymentsClient, type PaymentStatus } from "../api/payments";
import { I18nProvider } from "../i18n";
import { pl } from "../i18n/pl";
import { PayButton, PaymentsNotice, PaymentsProvider } from "./PayButton";

afterEach(cleanup);

function fakeClient(initial: PaymentStatus | null, after: PaymentStatus = "in_progress"): PaymentsClient & {
  setStatus: (status: PaymentStatus | null) => void;
  start: ReturnType<typeof vi.fn>;
} {
  let current = initial;
  const start = vi.fn(async () => {
    current = after;
    return { payment_id: "p-1", status: after, redirect_url: null };
  });
  return {
    enabled: true,
    availability: async () => current !== "unavailable",
    status: async () => ({ status: current, locked: payButtonLocked(current) }),
    start,
    setStatus: (status) => {
      current = status;
    },
  };
}

function show(client: PaymentsClient, payable = true) {
  return render(
    <I18nProvider lang="pl">
      <PaymentsProvider client={client}>
        <PaymentsNotice />
        <PayButton invoiceId="inv-1" payable={payable} />
      </PaymentsProvider>
    </I18nProvider>,
  );
}

const button = () => screen.getByRole("button", { name: "Zapłać" });

describe("PayButton", () => {
  it.each([
    ["in_progress", true],
    ["accepted", true],
    ["not_started", false],
    ["failed", false],
  ] as const)("shows the client zone's text for %s (locked: %s)", async (status, locked) => {
    show(fakeClient(status));
    expect(await screen.findByText(pl[`payment.status.${status}`])).toBeTruthy();
    expect((button() as HTMLButtonElement).disabled).toBe(locked);
  });

  it("is free with no payment yet, and locks while the started payment is in progress", async () => {
    const client = fakeClient(null);
    show(client);
    await act(async () => undefined);
    expect((button() as HTMLButtonElement).disabled).toBe(false);
    await act(async () => {
      fireEvent.click(button());
    });
    expect(client.start).toHaveBeenCalledWith("inv-1");
    expect(await screen.findByText(pl["payment.status.in_progress"])).toBeTruthy();
    expect((button() as HTMLButtonElement).disabled).toBe(true);
  });

  it("lets the payer try again after a failure", async () => {
    const client = fakeClient("failed");
    show(client);
    expect(await screen.findByText(pl["payment.status.failed"])).toBeTruthy();
    await act(async () => {
      fireEvent.click(button());
    });
    expect(client.start).toHaveBeenCalledTimes(1);
    expect(await screen.findByText(pl["payment.status.in_progress"])).toBeTruthy();
  });

  it("says the function is unavailable when starting fails", async () => {
    const client = fakeClient(null);
    client.start.mockRejectedValueOnce(new Error("503"));
    show(client);
    await act(async () => undefined);
    await act(async () => {
      fireEvent.click(button());
    });
    expect(await screen.findByText(pl["payment.status.unavailable"])).toBeTruthy();
    expect((button() as HTMLButtonElement).disabled).toBe(true);
  });

  it("while the gateway is down: one notice for the page, the button locked", async () => {
    show(fakeClient("unavailable"));
    expect(await screen.findByText(pl["payment.status.unavailable"])).toBeTruthy();
    expect(screen.getAllByText(pl["payment.status.unavailable"])).toHaveLength(1);
    expect((button() as HTMLButtonElement).disabled).toBe(true);
  });

  it("without a payments API: one notice, the button locked", async () => {
    render(
      <I18nProvider lang="pl">
        <PaymentsNotice />
        <PayButton invoiceId="inv-1" payable />
      </I18nProvider>,
    );
    expect(await screen.findByText(pl["payment.status.unavailable"])).toBeTruthy();
    expect((button() as HTMLButtonElement).disabled).toBe(true);
  });

  it("shows no button for an invoice with nothing to pay", async () => {
    show(fakeClient(null), false);
    await act(async () => undefined);
    expect(screen.queryByRole("button", { name: "Zapłać" })).toBeNull();
  });
});
