// Reports of a project (docs/reports.md, "Server API"): list, create, read, save ops against a
// base version, delete, the version history (read one, restore), freeze/unfreeze, image assets
// and a bare id's project. No UI code here.

import type { Block, Conflict, Op, Report } from "../reports/doc";
import { request, requestBlob } from "./client";

export type { Block, Conflict, Op, Report } from "../reports/doc";

/** One row of a project's reports list. */
export interface ReportSummary {
  id: string;
  title: string;
  updated_by: string;
  updated_at: number;
  version: number;
  frozen_at: number | null;
  url: string;
}

/** One entry of a report's history. */
export interface ReportVersionInfo {
  version: number;
  author: string;
  at: number;
  note: string;
}

export interface SaveResult {
  report: Report;
  conflicts: Conflict[];
}

function base(entity: string, project: string): string {
  return `/reports/${encodeURIComponent(entity)}/${encodeURIComponent(project)}`;
}

function one(entity: string, project: string, id: string): string {
  return `${base(entity, project)}/${encodeURIComponent(id)}`;
}

function opts(signal?: AbortSignal): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal };
}

export async function listReports(entity: string, project: string, signal?: AbortSignal): Promise<ReportSummary[]> {
  const data = await request<{ reports: ReportSummary[] } | ReportSummary[]>(base(entity, project), opts(signal));
  return Array.isArray(data) ? data : data.reports;
}

export function createReport(entity: string, project: string, body: { title: string; description?: string; blocks?: Block[] }): Promise<Report> {
  return request<Report>(base(entity, project), { method: "POST", body: { description: "", blocks: [], ...body } });
}

export function getReport(entity: string, project: string, id: string, signal?: AbortSignal): Promise<Report> {
  return request<Report>(one(entity, project, id), opts(signal));
}

/** Save `ops` made on top of version `base_version`; the server merges them per block. */
export function saveReport(entity: string, project: string, id: string, body: { base_version: number; ops: Op[] }): Promise<SaveResult> {
  return request<SaveResult>(one(entity, project, id), { method: "PATCH", body });
}

export async function deleteReport(entity: string, project: string, id: string): Promise<void> {
  await request<unknown>(one(entity, project, id), { method: "DELETE" });
}

export async function listVersions(entity: string, project: string, id: string, signal?: AbortSignal): Promise<ReportVersionInfo[]> {
  const data = await request<{ versions: ReportVersionInfo[] } | ReportVersionInfo[]>(`${one(entity, project, id)}/versions`, opts(signal));
  return Array.isArray(data) ? data : data.versions;
}

/** The document as it was at version `n`. */
export function getVersion(entity: string, project: string, id: string, n: number, signal?: AbortSignal): Promise<Report> {
  return request<Report>(`${one(entity, project, id)}/versions/${n}`, opts(signal));
}

/** A new version holding version `n`'s content (note "restored vN"). */
export function restoreVersion(entity: string, project: string, id: string, n: number): Promise<Report> {
  return request<Report>(`${one(entity, project, id)}/versions/${n}/restore`, { method: "POST" });
}

/** Resolve every filter run set to the runs it matches now, and read histories up to now. */
export function freezeReport(entity: string, project: string, id: string): Promise<Report> {
  return request<Report>(`${one(entity, project, id)}/freeze`, { method: "POST" });
}

export function unfreezeReport(entity: string, project: string, id: string): Promise<Report> {
  return request<Report>(`${one(entity, project, id)}/unfreeze`, { method: "POST" });
}

/** Upload an image (png, jpeg, gif or webp) to the report; answers its `asset:<address>` src. */
export async function uploadAsset(entity: string, project: string, id: string, file: Blob): Promise<string> {
  const data = await request<{ src: string }>(`${one(entity, project, id)}/assets`, {
    method: "POST",
    raw: { data: file, type: file.type === "" ? "application/octet-stream" : file.type },
  });
  return data.src;
}

/** An uploaded image's bytes (`src` = `asset:<address>`). */
export function fetchAsset(entity: string, project: string, id: string, src: string, signal?: AbortSignal): Promise<Blob> {
  const address = src.replace(/^asset:/, "");
  return requestBlob(`${one(entity, project, id)}/assets/${encodeURIComponent(address)}`, opts(signal));
}

/** The project of a bare report id. */
export function reportProject(id: string, signal?: AbortSignal): Promise<{ entity: string; project: string }> {
  return request<{ entity: string; project: string }>(`/report-ids/${encodeURIComponent(id)}`, opts(signal));
}
