// The signed-in user's mentions (`#/inbox?show=unread`): newest first, unread ones marked,
// each with the comment, who wrote it, what it is on and a link there (following it marks the
// mention read); mark one or every mention read.

import { useEffect, useState } from "preact/hooks";
import { isAbort } from "../../api/client";
import { listMentions, markMentions, type MentionItem, type Mentions } from "../../api/comments";
import type { Viewer } from "../../api/types";
import { CommentBody } from "../../components/comments/CommentBody";
import "../../components/comments/comments.css";
import { Empty, ErrorState, Loading, errorMessage } from "../../components/states";
import { formatDateTime, formatRelative } from "../../lib/format";
import { useNow } from "../../lib/hooks";
import { poll } from "../../lib/poll";
import { href, navigate, withParams, type Params } from "../../lib/route";
import { mentionsChanged } from "./unread";

const POLL_MS = 15_000;
const KIND: Record<string, string> = { run: "run", report: "report", model: "model" };

function where(m: MentionItem): string {
  const t = m.target;
  const place = t.project === null ? t.entity : `${t.entity}/${t.project}`;
  return `${KIND[t.kind] ?? t.kind} ${t.label} (${place})`;
}

function Item({ m, now, onMark }: { m: MentionItem; now: number; onMark: (m: MentionItem, read: boolean) => void }) {
  return (
    <li class={m.unread ? "inbox-item unread" : "inbox-item"} data-testid="mention-item" data-unread={m.unread ? "true" : "false"} data-comment-id={m.id}>
      <span class={m.unread ? "inbox-dot" : ""} aria-hidden="true" />
      <div>
        <div>
          {m.unread && <span class="sr-only">Unread: </span>}
          <strong>{m.author ?? "someone"}</strong> mentioned you on{" "}
          {m.link === "" ? (
            <span>{where(m)}</span>
          ) : (
            <a
              href={m.link}
              data-testid="mention-link"
              onClick={() => {
                if (m.unread) void markMentions([m.id]).then(mentionsChanged, () => undefined);
              }}
            >
              {where(m)}
            </a>
          )}{" "}
          <time class="muted" title={formatDateTime(m.created_at)}>
            {formatRelative(m.created_at, now)}
          </time>
        </div>
        <CommentBody text={m.comment.body} notified={m.comment.mentions} testid="mention-body" />
      </div>
      <div class="inbox-actions">
        <button type="button" class="btn btn-small" onClick={() => { onMark(m, m.unread); }} data-testid={m.unread ? "mention-mark-read" : "mention-mark-unread"}>
          {m.unread ? "Mark read" : "Mark unread"}
        </button>
      </div>
    </li>
  );
}

export function InboxPage(props: { viewer: Viewer | null; params: Params }) {
  const unreadOnly = props.params.show === "unread";
  const [data, setData] = useState<Mentions | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [nonce, setNonce] = useState(0);
  const now = useNow(30_000);

  useEffect(() => {
    setData(null);
    setError(null);
    return poll(async (signal) => {
      try {
        setData(await listMentions({ limit: 200, unread: unreadOnly, signal }));
        setError(null);
      } catch (err) {
        if (isAbort(err)) return;
        setError(err);
        throw err;
      }
    }, POLL_MS);
  }, [unreadOnly, nonce]);

  const mark = async (ids: number[] | "all", read: boolean): Promise<void> => {
    setActionError(null);
    try {
      await markMentions(ids, read);
      mentionsChanged();
      setData(await listMentions({ limit: 200, unread: unreadOnly }));
    } catch (err) {
      setActionError(errorMessage(err));
    }
  };

  let body;
  if (data === null) {
    body = error === null ? <Loading label="Loading your mentions…" /> : <ErrorState title="Cannot load your mentions" error={error} onRetry={() => { setNonce((n) => n + 1); }} />;
  } else if (data.mentions.length === 0) {
    body = (
      <Empty title={unreadOnly ? "No unread mentions" : "No mentions yet"}>
        <p>When someone writes @{props.viewer?.name ?? "your-name"} in a comment on a run, a report or a model you can see, it shows up here.</p>
      </Empty>
    );
  } else {
    body = (
      <ol class="inbox-list card" aria-label="Mentions">
        {data.mentions.map((m) => (
          <Item key={m.id} m={m} now={now} onMark={(item, read) => void mark([item.id], read)} />
        ))}
      </ol>
    );
  }

  return (
    <div class="page page-narrow" data-testid="inbox-page">
      <h1 class="page-title">Inbox</h1>
      <div class="inbox-toolbar">
        <div role="group" aria-label="Show">
          <button type="button" class="btn btn-small" aria-pressed={!unreadOnly} onClick={() => { navigate(href.inbox(withParams(props.params, { show: undefined })), true); }} data-testid="inbox-all">
            All
          </button>{" "}
          <button type="button" class="btn btn-small" aria-pressed={unreadOnly} onClick={() => { navigate(href.inbox(withParams(props.params, { show: "unread" })), true); }} data-testid="inbox-unread-only">
            Unread
          </button>
        </div>
        <span class="muted" data-testid="inbox-unread-count">
          {data === null ? "" : `${data.unread} unread`}
        </span>
        <button type="button" class="btn btn-small" disabled={data === null || data.unread === 0} onClick={() => void mark("all", true)} data-testid="inbox-mark-all">
          Mark all read
        </button>
      </div>
      {actionError !== null && (
        <div class="field-error" role="alert">
          {actionError}
        </div>
      )}
      {body}
    </div>
  );
}
