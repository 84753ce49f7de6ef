// Comments on runs, reports and registered models, and the signed-in user's mentions inbox
// (docs/collaboration.md, "Comments and mentions"). No UI code here.

import { request } from "./client";

export type CommentTargetKind = "run" | "report" | "model";

export interface Comment {
  id: number;
  entity: string;
  target: CommentTargetKind;
  target_key: string;
  parent_id: number | null;
  /** null for a deleted comment (kept because it has replies). */
  author: string | null;
  /** Markdown as written; "" when deleted. */
  body: string;
  created_at: number;
  edited_at: number | null;
  deleted: boolean;
  /** The users this comment notified. */
  mentions: string[];
  replies: Comment[];
}

/** What a comment is on, and the dashboard route to it. */
export interface CommentTarget {
  entity: string;
  kind: CommentTargetKind;
  key: string;
  project: string | null;
  /** The run's name, the report's title or the model's name. */
  label: string;
  /** A hash route (`#/p/...`), "" when there is none. */
  link: string;
}

export interface Thread {
  target: CommentTarget;
  /** Top-level comments, oldest first, each with its replies. */
  comments: Comment[];
  /** The comments not deleted. */
  count: number;
}

/** A created or edited comment, and the `@names` that were not notified (not users who reach the entity). */
export interface SavedComment extends Comment {
  not_notified: string[];
}

export interface MentionItem {
  /** The comment's id. */
  id: number;
  comment: Comment;
  author: string | null;
  target: CommentTarget;
  link: string;
  created_at: number;
  read_at: number | null;
  unread: boolean;
}

export interface Mentions {
  mentions: MentionItem[];
  /** Every unread mention of the user (not only those answered). */
  unread: number;
}

function threadPath(entity: string, target: CommentTargetKind, key: string): string {
  // a run's key is `<project>/<run id>`: each part is encoded, the slash kept
  const parts = key.split("/").map(encodeURIComponent).join("/");
  return `/comments/${encodeURIComponent(entity)}/${target}/${parts}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function num(v: unknown, fallback = 0): number {
  return typeof v === "number" && Number.isFinite(v) ? v : fallback;
}

function numOrNull(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function kind(v: unknown): CommentTargetKind {
  return v === "report" || v === "model" ? v : "run";
}

export function parseComment(raw: unknown): Comment {
  const c = isRecord(raw) ? raw : {};
  return {
    id: num(c.id),
    entity: str(c.entity),
    target: kind(c.target),
    target_key: str(c.target_key),
    parent_id: numOrNull(c.parent_id),
    author: typeof c.author === "string" ? c.author : null,
    body: str(c.body),
    created_at: num(c.created_at),
    edited_at: numOrNull(c.edited_at),
    deleted: c.deleted === true,
    mentions: strings(c.mentions),
    replies: Array.isArray(c.replies) ? c.replies.map(parseComment) : [],
  };
}

export function parseTarget(raw: unknown): CommentTarget {
  const t = isRecord(raw) ? raw : {};
  return {
    entity: str(t.entity),
    kind: kind(t.kind),
    key: str(t.key),
    project: typeof t.project === "string" ? t.project : null,
    label: str(t.label),
    link: str(t.link),
  };
}

function parseSaved(raw: unknown): SavedComment {
  return { ...parseComment(raw), not_notified: strings(isRecord(raw) ? raw.not_notified : undefined) };
}

export function parseMentions(raw: unknown): Mentions {
  const m = isRecord(raw) ? raw : {};
  const items = Array.isArray(m.mentions) ? m.mentions : [];
  return {
    mentions: items.map((x): MentionItem => {
      const i = isRecord(x) ? x : {};
      return {
        id: num(i.id),
        comment: parseComment(i.comment),
        author: typeof i.author === "string" ? i.author : null,
        target: parseTarget(i.target),
        link: str(i.link),
        created_at: num(i.created_at),
        read_at: numOrNull(i.read_at),
        unread: i.unread === true,
      };
    }),
    unread: num(m.unread),
  };
}

/** The comments of a run (`key` = `<project>/<run id>`), a report (its id) or a model (its name). */
export async function listComments(entity: string, target: CommentTargetKind, key: string, signal?: AbortSignal): Promise<Thread> {
  const raw = await request<unknown>(threadPath(entity, target, key), signal === undefined ? {} : { signal });
  const t = isRecord(raw) ? raw : {};
  return {
    target: parseTarget(t.target),
    comments: Array.isArray(t.comments) ? t.comments.map(parseComment) : [],
    count: num(t.count),
  };
}

/** Comment, or reply to `parentId`. */
export async function createComment(entity: string, target: CommentTargetKind, key: string, body: string, parentId?: number): Promise<SavedComment> {
  const payload: { body: string; parent_id?: number } = { body };
  if (parentId !== undefined) payload.parent_id = parentId;
  return parseSaved(await request<unknown>(threadPath(entity, target, key), { method: "POST", body: payload }));
}

/** Replace a comment's body (its author only). */
export async function editComment(id: number, body: string): Promise<SavedComment> {
  return parseSaved(await request<unknown>(`/comments/${id}`, { method: "PATCH", body: { body } }));
}

/** Delete a comment; `kept` when it has replies and stays as "deleted". */
export async function deleteComment(id: number): Promise<{ id: number; kept: boolean }> {
  const raw = await request<unknown>(`/comments/${id}`, { method: "DELETE" });
  return { id, kept: isRecord(raw) && raw.kept === true };
}

/** The signed-in user's mentions, newest first (`limit: 0`: the unread count alone). */
export async function listMentions(opts: { limit?: number; unread?: boolean; signal?: AbortSignal } = {}): Promise<Mentions> {
  const query: Record<string, string | number | undefined> = { limit: opts.limit };
  if (opts.unread === true) query.unread = "true";
  const raw = await request<unknown>("/mentions", opts.signal === undefined ? { query } : { query, signal: opts.signal });
  return parseMentions(raw);
}

/** Mark mentions (by comment id, or every one) read, or unread with `read: false`; answers the unread count. */
export async function markMentions(ids: number[] | "all", read = true): Promise<number> {
  const body = ids === "all" ? { all: true, read } : { ids, read };
  const raw = await request<unknown>("/mentions/read", { method: "POST", body });
  return isRecord(raw) ? num(raw.unread) : 0;
}

/** The names an `@` in a comment of `entity` notifies (for completion). */
export async function mentionPeople(entity: string, signal?: AbortSignal): Promise<string[]> {
  const raw = await request<unknown>("/mentions/people", signal === undefined ? { query: { entity } } : { query: { entity }, signal });
  return isRecord(raw) ? strings(raw.people) : [];
}
