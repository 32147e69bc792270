import { useState } from "react";
import { ApiError } from "../api/http";
import { problemMessage } from "../api/problem";
import { useI18n } from "../i18n";

/** Downloads a protected file; says what went wrong next to the button if it could not. */
export function DownloadButton({
  label,
  accessibleLabel,
  fetchFile,
  className = "button button--secondary button--small",
}: {
  label: string;
  accessibleLabel?: string;
  fetchFile: () => Promise<unknown>;
  className?: string;
}) {
  const { t } = useI18n();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <span className="download">
      <button
        type="button"
        className={className}
        aria-label={accessibleLabel}
        disabled={busy}
        onClick={() => {
          setBusy(true);
          setError(null);
          fetchFile()
            .catch((failure: unknown) =>
              setError(
                failure instanceof ApiError ? problemMessage(failure.problem, failure.status, t) : t("error.unexpected"),
              ),
            )
            .finally(() => setBusy(false));
        }}
      >
        <span aria-hidden="true">⤓</span> {busy ? t("common.wait") : label}
      </button>
      {error ? (
        <span className="field__error" role="alert">
          {error}
        </span>
      ) : null}
    </span>
  );
}
