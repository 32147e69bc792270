import { useState } from "react";
import { billingApi, type DocumentKind } from "../api/billing";
import { useSession } from "../auth/session";
import { DownloadButton } from "../components/DownloadButton";
import { Async, DateText, Empty, Money, PageTitle } from "../components/ui";
import { useApi } from "../components/useApi";
import { formatFileSize } from "../format";
import { useI18n, type MessageKey } from "../i18n";
import { Pager } from "./Contracts";

const PAGE_SIZE = 20;

const KINDS: Record<DocumentKind, MessageKey> = {
  invoice: "documents.kind.invoice",
  interest_note: "documents.kind.interest_note",
  schedule: "documents.kind.schedule",
  settlement_statement: "documents.kind.settlement_statement",
  contract: "documents.kind.contract",
  annex: "documents.kind.annex",
  letter: "documents.kind.letter",
  other: "documents.kind.other",
};

/** "Noty odsetkowe": interest notes for late payment (billing; needs invoices:read). */
function InterestNotes() {
  const { t } = useI18n();
  const [offset, setOffset] = useState(0);
  const notes = useApi((signal) => billingApi.interestNotes({ limit: PAGE_SIZE, offset }, signal), [offset]);
  return (
    <section className="card" aria-labelledby="documents-notes">
      <h2 id="documents-notes">{t("documents.notes")}</h2>
      <Async state={notes}>
        {(page) =>
          page.items.length === 0 ? (
            <Empty>{t("documents.notes_none")}</Empty>
          ) : (
            <>
              <div className="table-wrap">
                <table className="table table--cards">
                  <caption className="visually-hidden">{t("documents.notes")}</caption>
                  <thead>
                    <tr>
                      <th scope="col">{t("documents.number")}</th>
                      <th scope="col">{t("documents.note_for")}</th>
                      <th scope="col">{t("documents.date")}</th>
                      <th scope="col">{t("invoices.due_date")}</th>
                      <th scope="col">{t("documents.days_late")}</th>
                      <th scope="col" className="num">
                        {t("documents.amount")}
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((note) => (
                      <tr key={note.note_id}>
                        <th scope="row" data-label={t("documents.number")}>
                          {note.number}
                        </th>
                        <td data-label={t("documents.note_for")}>{note.invoice_number ?? "—"}</td>
                        <td data-label={t("documents.date")}>
                          <DateText value={note.issue_date} />
                        </td>
                        <td data-label={t("invoices.due_date")}>
                          <DateText value={note.due_date} />
                        </td>
                        <td data-label={t("documents.days_late")}>{note.days_late}</td>
                        <td className="num" data-label={t("documents.amount")}>
                          <Money amount={note.amount} currency={note.currency} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <Pager total={page.total} offset={offset} size={PAGE_SIZE} onPage={setOffset} />
            </>
          )
        }
      </Async>
    </section>
  );
}

/** The documents published to the client, with download. */
function ClientDocuments() {
  const { t } = useI18n();
  const [kind, setKind] = useState<DocumentKind | "">("");
  const [offset, setOffset] = useState(0);
  const documents = useApi(
    (signal) => billingApi.documents({ kind: kind || undefined, limit: PAGE_SIZE, offset }, signal),
    [kind, offset],
  );
  return (
    <section className="card" aria-labelledby="documents-other">
      <h2 id="documents-other">{t("documents.other")}</h2>
      <div className="field field--inline filters-inline">
        <label htmlFor="document-kind">{t("documents.kind")}</label>
        <select
          id="document-kind"
          value={kind}
          onChange={(event) => {
            setKind(event.target.value as DocumentKind | "");
            setOffset(0);
          }}
        >
          <option value="">{t("common.all")}</option>
          {(Object.keys(KINDS) as DocumentKind[]).map((value) => (
            <option key={value} value={value}>
              {t(KINDS[value])}
            </option>
          ))}
        </select>
      </div>
      <Async state={documents}>
        {(page) =>
          page.items.length === 0 ? (
            <Empty>{t("documents.other_none")}</Empty>
          ) : (
            <>
              <div className="table-wrap">
                <table className="table table--cards">
                  <caption className="visually-hidden">{t("documents.other")}</caption>
                  <thead>
                    <tr>
                      <th scope="col">{t("documents.name")}</th>
                      <th scope="col">{t("documents.kind")}</th>
                      <th scope="col">{t("documents.date")}</th>
                      <th scope="col">{t("documents.size")}</th>
                      <th scope="col">
                        <span className="visually-hidden">{t("invoices.actions")}</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((document) => (
                      <tr key={document.document_id}>
                        <th scope="row" data-label={t("documents.name")}>
                          {document.title}
                        </th>
                        <td data-label={t("documents.kind")}>{t(KINDS[document.kind] ?? "documents.kind.other")}</td>
                        <td data-label={t("documents.date")}>
                          <DateText value={document.published_on} />
                        </td>
                        <td data-label={t("documents.size")}>{formatFileSize(document.size)}</td>
                        <td className="actions">
                          <DownloadButton
                            label={t("common.download")}
                            accessibleLabel={t("common.download_named", { name: document.title })}
                            fetchFile={() => billingApi.documentFile(document)}
                          />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <Pager total={page.total} offset={offset} size={PAGE_SIZE} onPage={setOffset} />
            </>
          )
        }
      </Async>
    </section>
  );
}

export function DocumentsPage() {
  const { t } = useI18n();
  const { can } = useSession();
  return (
    <>
      <PageTitle>{t("documents.title")}</PageTitle>
      {can("invoices:read") ? <InterestNotes /> : null}
      <ClientDocuments />
    </>
  );
}
