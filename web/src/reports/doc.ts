// The report document (docs/reports.md, "Document"): its block types, the edit operations the
// dashboard saves (`PATCH` with `base_version` + `ops`), and the client-side rebase that keeps
// local unsaved edits on top of a newer document from the server.
//
// The editor keeps three things: the last document the server answered (`server`), the ops of a
// save in flight (`inflight`) and the edits made since (`pending`). What the page shows is
// `server` with `inflight` and then `pending` applied. When another editor's save arrives (a
// poll), `server` is replaced and the same ops are applied on top of it again, so no local edit
// is lost; the server merges them per block when they are saved.

import type { BlockBase, PanelBlockData } from "./panels/types";

export type * from "./panels/types";
export { isPanelBlock, PANEL_TYPES } from "./panels/types";

export interface MarkdownBlock extends BlockBase {
  type: "markdown";
  text: string;
}

export interface ImageBlock extends BlockBase {
  type: "image";
  /** `asset:<blob address>` (uploaded to the report) or an https URL. */
  src: string;
  alt?: string;
  caption?: string;
}

export type Block = MarkdownBlock | ImageBlock | PanelBlockData;
export type BlockType = Block["type"];

/** The parts of a report the ops change. */
export interface ReportDoc {
  title: string;
  description: string;
  blocks: Block[];
}

export interface Report extends ReportDoc {
  id: string;
  entity: string;
  project: string;
  version: number;
  /** Unix seconds, or null while the run sets are live. */
  frozen_at: number | null;
  created_by: string;
  created_at: number;
  updated_by: string;
  updated_at: number;
  url: string;
}

export type Op =
  | { op: "set_title"; title: string }
  | { op: "set_description"; description: string }
  /** `after`: null = first; absent = an existing block keeps its place, a new one goes last. */
  | { op: "upsert"; block: Block; after?: string | null }
  | { op: "delete"; id: string }
  | { op: "move"; id: string; after: string | null };

export type ConflictKind = "overwritten" | "deleted_by_other" | "edited_after_delete";

export interface Conflict {
  block: string;
  by: string;
  at: number;
  kind: ConflictKind;
}

const ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789";

/** A new block id (`b` + 12 random characters of [a-z0-9]). */
export function newBlockId(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  let id = "b";
  for (const b of bytes) id += ID_CHARS[b % ID_CHARS.length] ?? "0";
  return id;
}

/** Where `after` puts a block in `blocks` (which no longer holds it): null = 0, unknown = the end. */
function insertIndex(blocks: readonly Block[], after: string | null): number {
  if (after === null) return 0;
  const i = blocks.findIndex((b) => b.id === after);
  return i < 0 ? blocks.length : i + 1;
}

/** `doc` with `op` applied, as the server applies it to its current document. */
export function applyOp<D extends ReportDoc>(doc: D, op: Op): D {
  switch (op.op) {
    case "set_title":
      return { ...doc, title: op.title };
    case "set_description":
      return { ...doc, description: op.description };
    case "delete":
      return { ...doc, blocks: doc.blocks.filter((b) => b.id !== op.id) };
    case "move": {
      const block = doc.blocks.find((b) => b.id === op.id);
      if (block === undefined) return doc;
      const rest = doc.blocks.filter((b) => b.id !== op.id);
      rest.splice(insertIndex(rest, op.after), 0, block);
      return { ...doc, blocks: rest };
    }
    case "upsert": {
      const i = doc.blocks.findIndex((b) => b.id === op.block.id);
      if (i >= 0 && op.after === undefined) {
        const blocks = doc.blocks.slice();
        blocks[i] = { ...op.block, rev: doc.blocks[i]?.rev ?? op.block.rev };
        return { ...doc, blocks };
      }
      const rest = doc.blocks.filter((b) => b.id !== op.block.id);
      rest.splice(op.after === undefined ? rest.length : insertIndex(rest, op.after), 0, op.block);
      return { ...doc, blocks: rest };
    }
  }
}

export function applyOps<D extends ReportDoc>(doc: D, ops: readonly Op[]): D {
  return ops.reduce(applyOp, doc);
}

/**
 * `ops` with `op` added, folding repeated edits: a second title (description) replaces the
 * first, an edit of a block that already has a pending upsert updates that upsert (keeping its
 * place), and deleting a block that was only created locally drops its ops.
 */
export function addOp(ops: readonly Op[], op: Op): Op[] {
  if (op.op === "set_title" || op.op === "set_description") {
    return [...ops.filter((o) => o.op !== op.op), op];
  }
  if (op.op === "upsert" && op.after === undefined) {
    const i = ops.findIndex((o) => o.op === "upsert" && o.block.id === op.block.id);
    if (i >= 0) {
      const prev = ops[i];
      if (prev !== undefined && prev.op === "upsert") {
        const out = ops.slice();
        out[i] = { ...prev, block: op.block };
        return out;
      }
    }
  }
  return [...ops, op];
}

/** The ids of the blocks `ops` write (upsert) or delete. */
export function touchedBlocks(ops: readonly Op[]): Set<string> {
  const ids = new Set<string>();
  for (const o of ops) {
    if (o.op === "upsert") ids.add(o.block.id);
    else if (o.op === "delete") ids.add(o.id);
  }
  return ids;
}

/** The editor's state (see the module comment). */
export interface EditorState {
  server: Report;
  inflight: Op[] | null;
  pending: Op[];
}

export function initialState(report: Report): EditorState {
  return { server: report, inflight: null, pending: [] };
}

/** What the page shows: the server's document with the unsaved ops on top. */
export function viewOf(state: EditorState): Report {
  return applyOps(applyOps(state.server, state.inflight ?? []), state.pending);
}

export function edit(state: EditorState, op: Op): EditorState {
  return { ...state, pending: addOp(state.pending, op) };
}

export function hasUnsaved(state: EditorState): boolean {
  return state.pending.length > 0 || state.inflight !== null;
}

/** Start saving the pending ops: the request's body, or null when nothing is to be saved. */
export function beginSave(state: EditorState): { state: EditorState; body: { base_version: number; ops: Op[] } } | null {
  if (state.inflight !== null || state.pending.length === 0) return null;
  return {
    state: { ...state, inflight: state.pending, pending: [] },
    body: { base_version: state.server.version, ops: state.pending },
  };
}

/** The server saved the ops in flight and answered `report`. */
export function saveDone(state: EditorState, report: Report): EditorState {
  return { server: report.version >= state.server.version ? report : state.server, inflight: null, pending: state.pending };
}

/** The save failed: its ops become pending again (before the edits made since). */
export function saveFailed(state: EditorState): EditorState {
  const ops = (state.inflight ?? []).reduce<Op[]>((acc, o) => addOp(acc, o), []);
  return { ...state, inflight: null, pending: state.pending.reduce<Op[]>((acc, o) => addOp(acc, o), ops) };
}

/** A block another editor changed (or deleted) that this editor also changed locally. */
export interface IncomingClash {
  block: string;
  by: string;
  deleted: boolean;
}

/**
 * Rebase on a newer document from the server (another editor's save, read by polling): the
 * local unsaved ops are kept and now apply on top of `report`. Ignored while a save is in flight
 * (its answer brings the newer document) or when `report` is not newer. `clashes` names the
 * blocks both changed: the local version will win when saved.
 */
export function rebase(state: EditorState, report: Report): { state: EditorState; clashes: IncomingClash[] } {
  if (state.inflight !== null || report.version <= state.server.version) return { state, clashes: [] };
  const mine = touchedBlocks(state.pending);
  const clashes: IncomingClash[] = [];
  for (const id of mine) {
    const before = state.server.blocks.find((b) => b.id === id);
    if (before === undefined) continue; // created locally: nobody else has it
    const after = report.blocks.find((b) => b.id === id);
    if (after === undefined) clashes.push({ block: id, by: report.updated_by, deleted: true });
    else if ((after.rev ?? 0) > (before.rev ?? 0)) clashes.push({ block: id, by: report.updated_by, deleted: false });
  }
  return { state: { ...state, server: report }, clashes };
}

/** A short human name for a block ("Markdown block 2: “Results”"). */
export function blockLabel(blocks: readonly Block[], id: string): string {
  const i = blocks.findIndex((b) => b.id === id);
  if (i < 0) return `block ${id}`;
  const b = blocks[i];
  if (b === undefined) return `block ${id}`;
  let hint = "";
  if (b.type === "markdown") hint = b.text.split("\n").find((l) => l.trim() !== "")?.replace(/^#+\s*/, "").slice(0, 40) ?? "";
  else if ("title" in b && typeof b.title === "string") hint = b.title;
  return `${BLOCK_NAMES[b.type] ?? b.type} block ${i + 1}${hint !== "" ? ` (“${hint}”)` : ""}`;
}

export const BLOCK_NAMES: Record<string, string> = {
  markdown: "Text",
  image: "Image",
  line: "Line chart",
  runs_table: "Runs table",
  parallel: "Parallel coordinates",
  media: "Media",
  histogram: "Histogram",
  scalar: "Scalar",
  lineage: "Artifact lineage",
  compare: "Run comparison",
};
