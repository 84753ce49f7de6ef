// A run's alerts (`GET RUN/alerts`, raised with `fwtrack.alert`), in the order it raised them.

import { request } from "./client";
import { runsPath } from "./runs";

export type AlertLevel = "INFO" | "WARN" | "ERROR";

export interface RunAlert {
  /** The alert's number in the run, from 0. */
  seq: number;
  /** Unix seconds. */
  ts: number;
  title: string;
  text: string;
  level: AlertLevel;
}

export interface AlertPage {
  alerts: RunAlert[];
  total: number;
  next: number | null;
}

export function getAlerts(entity: string, project: string, runId: string, offset = 0, signal?: AbortSignal): Promise<AlertPage> {
  const query = { offset, limit: 100 };
  const path = `${runsPath(entity, project, runId)}/alerts`;
  return request<AlertPage>(path, signal === undefined ? { query } : { query, signal });
}
