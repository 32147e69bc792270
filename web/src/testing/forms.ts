/** Filling and reading forms in component tests, as a person would: by labels and button names. */
import { act, fireEvent, within } from "@testing-library/react";

export function type(scope: HTMLElement, label: RegExp, value: string): void {
  fireEvent.change(within(scope).getByLabelText(label), { target: { value } });
}

export async function click(scope: HTMLElement, name: string | RegExp): Promise<void> {
  await act(async () => {
    fireEvent.click(within(scope).getByRole("button", { name }));
  });
}

/** The messages shown for a field: what its aria-describedby points at. */
export function messagesOf(scope: HTMLElement, label: RegExp): string[] {
  const field = within(scope).getByLabelText(label);
  const ids = (field.getAttribute("aria-describedby") ?? "").split(" ").filter(Boolean);
  return ids.map((id) => document.getElementById(id)?.textContent ?? "");
}
