// The comments of a run, a report or a registered model: a thread with replies, a comment box
// with a preview, editing and deleting one's own comments (a deleted comment with replies
// stays as "deleted"), `@mentions` highlighted. Picks up others' comments by polling.

import { useEffect, useState } from "preact/hooks";
import { getViewer } from "../../api/auth";
import { isAbort } from "../../api/client";
import { createComment, deleteComment, editComment, listComments, type Comment, type SavedComment, type Thread } from "../../api/comments";
import type { Viewer } from "../../api/types";
import { formatDateTime, formatRelative } from "../../lib/format";
import { useNow } from "../../lib/hooks";
import { poll } from "../../lib/poll";
import { ConfirmDialog } from "../ConfirmDialog";
import { ErrorState, Loading } from "../states";
import { CommentBody } from "./CommentBody";
import { CommentEditor } from "./CommentEditor";
import "./comments.css";

export type CommentTarget = "run" | "report" | "model";

const POLL_MS = 10_000;
/** Replies deeper than this are drawn at this depth (still under their parent). */
const MAX_INDENT = 4;

let viewerOnce: Promise<Viewer | null> | null = null;

function currentViewer(): Promise<Viewer | null> {
  viewerOnce ??= getViewer().catch(() => {
    viewerOnce = null;
    return null;
  });
  return viewerOnce;
}

/** `fwtrack ui`'s one user: nobody else to mention. */
function isLocal(v: Viewer | null): boolean {
  return v !== null && v.name === "local" && v.is_admin;
}

function NotNotified({ names, entity, onClose }: { names: string[]; entity: string; onClose: () => void }) {
  return (
    <div class="notice comment-notice" role="status" data-testid="comment-not-notified">
      Not notified: {names.map((n) => `@${n}`).join(", ")} ({names.length === 1 ? "not a user" : "not users"} who can see {entity}).{" "}
      <button type="button" class="btn btn-ghost btn-small" onClick={onClose}>
        Dismiss
      </button>
    </div>
  );
}

interface ItemProps {
  comment: Comment;
  entity: string;
  depth: number;
  viewer: Viewer | null;
  now: number;
  mentions: boolean;
  onReply: (parent: Comment, body: string) => Promise<void>;
  onEdit: (c: Comment, body: string) => Promise<void>;
  onDelete: (c: Comment) => void;
}

function CommentItem(props: ItemProps) {
  const { comment: c, viewer, now } = props;
  const [mode, setMode] = useState<"view" | "edit" | "reply">("view");
  const mine = viewer !== null && c.author === viewer.name;
  const mayDelete = mine || viewer?.is_admin === true;
  return (
    <li class="comment" data-testid="comment" data-comment-id={c.id} data-author={c.author ?? ""} data-deleted={c.deleted ? "true" : "false"}>
      <article class="comment-card" aria-label={c.deleted ? "Deleted comment" : `Comment by ${c.author ?? "unknown"}`}>
        {c.deleted ? (
          <p class="comment-deleted muted" data-testid="comment-deleted">
            deleted
          </p>
        ) : (
          <>
            <header class="comment-meta">
              <span class="comment-author" data-testid="comment-author">
                {c.author ?? "unknown"}
              </span>
              <time class="muted" dateTime={new Date(c.created_at * 1000).toISOString()} title={formatDateTime(c.created_at)}>
                {formatRelative(c.created_at, now)}
              </time>
              {c.edited_at !== null && (
                <span class="muted" title={`edited ${formatDateTime(c.edited_at)}`} data-testid="comment-edited">
                  (edited)
                </span>
              )}
            </header>
            {mode === "edit" ? (
              <CommentEditor
                entity={props.entity}
                initial={c.body}
                label="Edit the comment"
                submitLabel="Save"
                mentions={props.mentions}
                autoFocus
                testid="comment-edit-editor"
                onCancel={() => { setMode("view"); }}
                onSubmit={async (body) => {
                  await props.onEdit(c, body);
                  setMode("view");
                }}
              />
            ) : (
              <CommentBody text={c.body} notified={c.mentions} />
            )}
            {mode !== "edit" && (
              <div class="comment-actions">
                <button type="button" class="btn btn-ghost btn-small" onClick={() => { setMode(mode === "reply" ? "view" : "reply"); }} data-testid="comment-reply">
                  Reply
                </button>
                {mine && (
                  <button type="button" class="btn btn-ghost btn-small" onClick={() => { setMode("edit"); }} data-testid="comment-edit">
                    Edit
                  </button>
                )}
                {mayDelete && (
                  <button type="button" class="btn btn-ghost btn-small btn-danger-ghost" onClick={() => { props.onDelete(c); }} data-testid="comment-delete">
                    Delete
                  </button>
                )}
              </div>
            )}
          </>
        )}
      </article>
      {mode === "reply" && (
        <div class="comment-reply-box">
          <CommentEditor
            entity={props.entity}
            label={`Reply to ${c.author ?? "the comment"}`}
            submitLabel="Reply"
            placeholder="Write a reply"
            mentions={props.mentions}
            autoFocus
            testid="comment-reply-editor"
            onCancel={() => { setMode("view"); }}
            onSubmit={async (body) => {
              await props.onReply(c, body);
              setMode("view");
            }}
          />
        </div>
      )}
      {c.replies.length > 0 && (
        <ol class={props.depth < MAX_INDENT ? "comment-replies" : "comment-replies comment-replies-flat"} aria-label={`Replies to ${c.author ?? "a deleted comment"}`}>
          {c.replies.map((r) => (
            <CommentItem key={r.id} {...props} comment={r} depth={props.depth + 1} />
          ))}
        </ol>
      )}
    </li>
  );
}

export function CommentThread(props: { entity: string; target: CommentTarget; targetKey: string }) {
  const { entity, target, targetKey } = props;
  const [thread, setThread] = useState<Thread | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [viewer, setViewer] = useState<Viewer | null>(null);
  const [nonce, setNonce] = useState(0);
  const [notice, setNotice] = useState<string[]>([]);
  const [deleting, setDeleting] = useState<Comment | null>(null);
  const now = useNow(30_000);

  useEffect(() => {
    let live = true;
    void currentViewer().then((v) => {
      if (live) setViewer(v);
    });
    return () => {
      live = false;
    };
  }, []);

  useEffect(() => {
    setThread(null);
    setError(null);
    return poll(async (signal) => {
      try {
        setThread(await listComments(entity, target, targetKey, signal));
        setError(null);
      } catch (err) {
        if (isAbort(err)) return;
        setError(err);
        throw err;
      }
    }, POLL_MS);
  }, [entity, target, targetKey, nonce]);

  const reload = async (): Promise<void> => {
    setThread(await listComments(entity, target, targetKey));
  };
  const saved = async (c: SavedComment): Promise<void> => {
    setNotice(c.not_notified);
    await reload();
  };
  const mentions = !isLocal(viewer);

  let list;
  if (thread === null) {
    list = error === null ? <Loading label="Loading comments…" /> : <ErrorState title="Cannot load the comments" error={error} onRetry={() => { setNonce((n) => n + 1); }} />;
  } else if (thread.comments.length === 0) {
    list = <p class="muted comment-empty">No comments yet.</p>;
  } else {
    list = (
      <ol class="comment-list" aria-label="Comments">
        {thread.comments.map((c) => (
          <CommentItem
            key={c.id}
            comment={c}
            entity={entity}
            depth={0}
            viewer={viewer}
            now={now}
            mentions={mentions}
            onReply={async (parent, body) => saved(await createComment(entity, target, targetKey, body, parent.id))}
            onEdit={async (c2, body) => saved(await editComment(c2.id, body))}
            onDelete={setDeleting}
          />
        ))}
      </ol>
    );
  }

  return (
    <section class="card comment-thread" aria-labelledby={`comments-${target}`} data-testid="comments" data-target={`${entity}:${target}:${targetKey}`}>
      <h2 class="section-title" id={`comments-${target}`}>
        Comments {thread !== null && thread.count > 0 && <span class="muted" data-testid="comment-count">({thread.count})</span>}
      </h2>
      {list}
      {notice.length > 0 && <NotNotified names={notice} entity={entity} onClose={() => { setNotice([]); }} />}
      {error !== null && thread !== null && (
        <div class="notice" role="status">
          Updating the comments failed; retrying.
        </div>
      )}
      <CommentEditor
        entity={entity}
        label="New comment"
        submitLabel="Comment"
        mentions={mentions}
        testid="comment-new"
        onSubmit={async (body) => saved(await createComment(entity, target, targetKey, body))}
      />
      {deleting !== null && (
        <ConfirmDialog
          title="Delete this comment?"
          confirmLabel="Delete comment"
          danger
          onCancel={() => { setDeleting(null); }}
          onConfirm={async () => {
            await deleteComment(deleting.id);
            setDeleting(null);
            await reload();
          }}
        >
          <p>
            {deleting.replies.length > 0
              ? "It has replies: it stays in the thread as “deleted” so they keep their place. Its text is removed."
              : "The comment is removed. It cannot be undone."}
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
