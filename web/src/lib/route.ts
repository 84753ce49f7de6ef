// Hash routes (web/README.md, "Routes"): everything needed to share a view is in the URL.

/** Query parameters of a route, in their order of appearance. */
export type Params = Record<string, string>;

export type Route =
  | { page: "projects"; params: Params }
  | { page: "signin"; params: Params }
  | { page: "admin"; params: Params }
  | { page: "keys"; params: Params }
  | { page: "workspace"; entity: string; project: string; params: Params }
  | { page: "run"; entity: string; project: string; runId: string; params: Params }
  | { page: "compare"; entity: string; project: string; params: Params }
  | { page: "artifacts"; entity: string; project: string; params: Params }
  | { page: "collection"; entity: string; project: string; name: string; params: Params }
  | { page: "version"; entity: string; project: string; name: string; version: string; params: Params }
  | { page: "sweeps"; entity: string; project: string; params: Params }
  | { page: "sweep"; entity: string; project: string; sweepId: string; params: Params }
  | { page: "registry"; entity: string; params: Params }
  | { page: "model"; entity: string; model: string; params: Params }
  | { page: "modelVersion"; entity: string; model: string; version: string; params: Params }
  | { page: "webhooks"; entity: string; params: Params }
  | { page: "reports"; entity: string; project: string; params: Params }
  | { page: "report"; entity: string; project: string; reportId: string; params: Params }
  | { page: "inbox"; params: Params }
  | { page: "team"; team: string; params: Params }
  | { page: "invite"; token: string; params: Params }
  | { page: "notfound"; path: string; params: Params };

function decode(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

/** Query parameters from `a=1&b=x%2Cy` (the part after `?`); empty values are dropped. */
export function parseParams(query: string): Params {
  const out: Params = {};
  for (const [k, v] of new URLSearchParams(query)) {
    if (v !== "") out[k] = v;
  }
  return out;
}

/** `a=1&b=x,y`: commas and slashes stay readable, empty and undefined values are left out. */
export function formatParams(params: Record<string, string | undefined>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === "") continue;
    const value = encodeURIComponent(v).replace(/%2C/gi, ",").replace(/%2F/gi, "/").replace(/%3A/gi, ":");
    parts.push(`${encodeURIComponent(k)}=${value}`);
  }
  return parts.join("&");
}

/** The route of a location hash (`#/p/e/p?runs=a`); anything unknown is `notfound`. */
export function parseRoute(hash: string): Route {
  let rest = hash.startsWith("#") ? hash.slice(1) : hash;
  if (rest === "") rest = "/";
  const q = rest.indexOf("?");
  const path = q >= 0 ? rest.slice(0, q) : rest;
  const params = parseParams(q >= 0 ? rest.slice(q + 1) : "");
  const raw = path.split("/").filter((s) => s !== "");
  const parts = raw.map(decode);
  if (parts.some((p) => p === null)) return { page: "notfound", path, params };
  const seg = parts as string[];
  if (seg.length === 0) return { page: "projects", params };
  if (seg.length === 1 && seg[0] === "signin") return { page: "signin", params };
  if (seg.length === 1 && seg[0] === "admin") return { page: "admin", params };
  if (seg.length === 1 && seg[0] === "keys") return { page: "keys", params };
  if (seg.length === 1 && seg[0] === "inbox") return { page: "inbox", params };
  if (seg.length === 2 && seg[0] === "teams") return { page: "team", team: seg[1] as string, params };
  if (seg.length === 2 && seg[0] === "invite") return { page: "invite", token: seg[1] as string, params };
  if (seg[0] === "registry" && seg.length >= 2) {
    const entity = seg[1] as string;
    if (seg.length === 2) return { page: "registry", entity, params };
    if (seg.length === 3 && seg[2] === "webhooks") return { page: "webhooks", entity, params };
    if (seg[2] === "models" && seg.length === 4) return { page: "model", entity, model: seg[3] as string, params };
    if (seg[2] === "models" && seg.length === 5) return { page: "modelVersion", entity, model: seg[3] as string, version: seg[4] as string, params };
  }
  if (seg[0] === "p" && seg.length >= 3) {
    const entity = seg[1] as string;
    const project = seg[2] as string;
    if (seg.length === 3) return { page: "workspace", entity, project, params };
    if (seg.length === 4 && seg[3] === "compare") return { page: "compare", entity, project, params };
    if (seg[3] === "artifacts") {
      if (seg.length === 4) return { page: "artifacts", entity, project, params };
      if (seg.length === 5) return { page: "collection", entity, project, name: seg[4] as string, params };
      if (seg.length === 6) return { page: "version", entity, project, name: seg[4] as string, version: seg[5] as string, params };
    }
    if (seg[3] === "sweeps") {
      if (seg.length === 4) return { page: "sweeps", entity, project, params };
      if (seg.length === 5) return { page: "sweep", entity, project, sweepId: seg[4] as string, params };
    }
    if (seg[3] === "reports") {
      if (seg.length === 4) return { page: "reports", entity, project, params };
      if (seg.length === 5) return { page: "report", entity, project, reportId: seg[4] as string, params };
    }
    if (seg.length === 5 && seg[3] === "r") {
      return { page: "run", entity, project, runId: seg[4] as string, params };
    }
  }
  return { page: "notfound", path, params };
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

/** The hash (with `#`) of a route; parameters with empty values are left out. */
export function formatRoute(route: Route): string {
  let path: string;
  switch (route.page) {
    case "projects":
      path = "/";
      break;
    case "signin":
      path = "/signin";
      break;
    case "admin":
      path = "/admin";
      break;
    case "keys":
      path = "/keys";
      break;
    case "workspace":
      path = `/p/${enc(route.entity)}/${enc(route.project)}`;
      break;
    case "run":
      path = `/p/${enc(route.entity)}/${enc(route.project)}/r/${enc(route.runId)}`;
      break;
    case "compare":
      path = `/p/${enc(route.entity)}/${enc(route.project)}/compare`;
      break;
    case "artifacts":
      path = `/p/${enc(route.entity)}/${enc(route.project)}/artifacts`;
      break;
    case "collection":
      path = `/p/${enc(route.entity)}/${enc(route.project)}/artifacts/${enc(route.name)}`;
      break;
    case "version":
      path = `/p/${enc(route.entity)}/${enc(route.project)}/artifacts/${enc(route.name)}/${enc(route.version)}`;
      break;
    case "sweeps":
      path = `/p/${enc(route.entity)}/${enc(route.project)}/sweeps`;
      break;
    case "sweep":
      path = `/p/${enc(route.entity)}/${enc(route.project)}/sweeps/${enc(route.sweepId)}`;
      break;
    case "registry":
      path = `/registry/${enc(route.entity)}`;
      break;
    case "model":
      path = `/registry/${enc(route.entity)}/models/${enc(route.model)}`;
      break;
    case "modelVersion":
      path = `/registry/${enc(route.entity)}/models/${enc(route.model)}/${enc(route.version)}`;
      break;
    case "webhooks":
      path = `/registry/${enc(route.entity)}/webhooks`;
      break;
    case "reports":
      path = `/p/${enc(route.entity)}/${enc(route.project)}/reports`;
      break;
    case "report":
      path = `/p/${enc(route.entity)}/${enc(route.project)}/reports/${enc(route.reportId)}`;
      break;
    case "inbox":
      path = "/inbox";
      break;
    case "team":
      path = `/teams/${enc(route.team)}`;
      break;
    case "invite":
      path = `/invite/${enc(route.token)}`;
      break;
    case "notfound":
      path = route.path;
      break;
  }
  const query = formatParams(route.params);
  return `#${path}${query === "" ? "" : `?${query}`}`;
}

/** Hash links for the pages. */
export const href = {
  projects: (): string => "#/",
  signin: (next?: string): string => formatRoute({ page: "signin", params: next === undefined ? {} : { next } }),
  /** The admin page; with `user`, that user's API keys are shown too. */
  admin: (user?: string): string => formatRoute({ page: "admin", params: user === undefined ? {} : { user } }),
  keys: (): string => "#/keys",
  workspace: (entity: string, project: string, params: Params = {}): string =>
    formatRoute({ page: "workspace", entity, project, params }),
  run: (entity: string, project: string, runId: string, params: Params = {}): string =>
    formatRoute({ page: "run", entity, project, runId, params }),
  compare: (entity: string, project: string, runs: string[]): string =>
    formatRoute({ page: "compare", entity, project, params: { runs: runs.join(",") } }),
  /** A project's artifacts: types and collections (`type` picks one type). */
  artifacts: (entity: string, project: string, params: Params = {}): string => formatRoute({ page: "artifacts", entity, project, params }),
  /** A collection: its versions, and the diff of `a` and `b` when both are given. */
  collection: (entity: string, project: string, name: string, params: Params = {}): string =>
    formatRoute({ page: "collection", entity, project, name, params }),
  /** A version (`vN`, an alias or a digest): files, metadata, runs, lineage (`tab`). */
  version: (entity: string, project: string, name: string, version: string, params: Params = {}): string =>
    formatRoute({ page: "version", entity, project, name, version, params }),
  /** A project's sweeps. */
  sweeps: (entity: string, project: string, params: Params = {}): string => formatRoute({ page: "sweeps", entity, project, params }),
  /** A sweep: state and controls, best runs, charts, importance and its runs (`brush` keeps the parallel coordinates' brushes). */
  sweep: (entity: string, project: string, sweepId: string, params: Params = {}): string => formatRoute({ page: "sweep", entity, project, sweepId, params }),
  /** The registered models of an entity (`tag` picks the models with that tag). */
  registry: (entity: string, params: Params = {}): string => formatRoute({ page: "registry", entity, params }),
  /** A registered model: its stages, versions (`tab=versions`), aliases and audit trail (`tab`). */
  model: (entity: string, model: string, params: Params = {}): string => formatRoute({ page: "model", entity, model, params }),
  /** A model version's card (`version`: `vN`, an alias or `latest`). */
  modelVersion: (entity: string, model: string, version: string, params: Params = {}): string =>
    formatRoute({ page: "modelVersion", entity, model, version, params }),
  /** The webhooks of an entity; `hook` opens one's delivery log. */
  webhooks: (entity: string, params: Params = {}): string => formatRoute({ page: "webhooks", entity, params }),
  /** A project's reports. */
  reports: (entity: string, project: string, params: Params = {}): string => formatRoute({ page: "reports", entity, project, params }),
  /** A report (`edit=1` opens it for editing, `version=N` shows a saved version). */
  report: (entity: string, project: string, reportId: string, params: Params = {}): string =>
    formatRoute({ page: "report", entity, project, reportId, params }),
  /** The signed-in user's mentions. */
  inbox: (params: Params = {}): string => formatRoute({ page: "inbox", params }),
  /** A team: members and roles, invitations, audit. */
  team: (team: string, params: Params = {}): string => formatRoute({ page: "team", team, params }),
  /** Accepting a team invitation (the one-time link). */
  invite: (token: string): string => formatRoute({ page: "invite", token, params: {} }),
};

/** A comma-separated list parameter (`runs=a,b`), without empty items. */
export function listParam(params: Params, name: string): string[] {
  const v = params[name];
  if (v === undefined) return [];
  return v.split(",").filter((s) => s !== "");
}

/** A non-negative integer parameter, else `fallback`. */
export function intParam(params: Params, name: string, fallback: number): number {
  const v = params[name];
  if (v === undefined || !/^\d{1,9}$/.test(v)) return fallback;
  return Number(v);
}

/** `params` with `changes` applied: `undefined`, "" or [] removes a parameter; others are kept. */
export function withParams(params: Params, changes: Record<string, string | string[] | undefined>): Params {
  const out: Params = { ...params };
  for (const [k, v] of Object.entries(changes)) {
    const s = Array.isArray(v) ? v.join(",") : v;
    if (s === undefined || s === "") Reflect.deleteProperty(out, k);
    else out[k] = s;
  }
  return out;
}

/** The current route's hash, for `next=` after signing in. */
export function currentHash(): string {
  return window.location.hash === "" ? "#/" : window.location.hash;
}

/** Go to a route (adds a history entry) or replace the current one (filters, typing, paging). */
export function navigate(hash: string, replace = false): void {
  if (hash === window.location.hash) return;
  if (replace) {
    const url = new URL(window.location.href);
    url.hash = hash;
    window.history.replaceState(null, "", url);
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else {
    window.location.hash = hash;
  }
}
