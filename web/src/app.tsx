// The app shell: top bar, breadcrumbs, viewer, routing, sign-in redirects, error boundary.

import { useCallback, useEffect, useState } from "preact/hooks";
import { getViewer, hasStoredKey, signOut } from "./api/auth";
import { ApiError, isAbort, onUnauthorized } from "./api/client";
import type { Viewer } from "./api/types";
import { ErrorBoundary } from "./components/ErrorBoundary";
import { useRoute } from "./lib/hooks";
import { currentHash, formatRoute, href, navigate, parseRoute, type Route } from "./lib/route";
import { AdminPage } from "./pages/Admin";
import { ArtifactsPage } from "./pages/artifacts/ArtifactsPage";
import { CollectionPage } from "./pages/artifacts/CollectionPage";
import { VersionPage } from "./pages/artifacts/VersionPage";
import { isLocalViewer } from "./pages/admin/access";
import { ComparePage } from "./pages/Compare";
import { KeysPage } from "./pages/Keys";
import { NotFoundPage } from "./pages/NotFound";
import { ProjectsPage } from "./pages/Projects";
import { ModelPage } from "./pages/registry/ModelPage";
import { ModelsPage } from "./pages/registry/ModelsPage";
import { ModelVersionPage } from "./pages/registry/ModelVersionPage";
import { WebhooksPage } from "./pages/registry/WebhooksPage";
import { RunPage } from "./pages/Run";
import { SignInPage } from "./pages/SignIn";
import { SweepPage } from "./pages/sweeps/SweepPage";
import { SweepsPage } from "./pages/sweeps/SweepsPage";
import { canWrite } from "./pages/sweeps/trials";
import { WorkspacePage } from "./pages/Workspace";
import { InboxLink } from "./pages/inbox/InboxLink";
import { InboxPage } from "./pages/inbox/InboxPage";
import { ReportPage } from "./pages/report/ReportPage";
import { ReportsPage } from "./pages/report/ReportsPage";
import { InvitePage } from "./pages/team/InvitePage";
import { TeamPage } from "./pages/team/TeamPage";

/** Where "sign in" should return to: the route asked for, never the sign-in page itself. */
function safeNext(next: string | undefined): string {
  if (next === undefined || !next.startsWith("#/")) return "#/";
  return parseRoute(next).page === "signin" ? "#/" : next;
}

function Breadcrumbs({ route }: { route: Route }) {
  const crumbs: { label: string; href?: string }[] = [];
  if (route.page === "workspace" || route.page === "run" || route.page === "compare") {
    crumbs.push({ label: "Projects", href: href.projects() });
    crumbs.push({ label: `${route.entity} / ${route.project}`, href: href.workspace(route.entity, route.project) });
    if (route.page === "run") crumbs.push({ label: route.runId });
    if (route.page === "compare") crumbs.push({ label: "Compare" });
  } else if (route.page === "artifacts" || route.page === "collection" || route.page === "version") {
    crumbs.push({ label: "Projects", href: href.projects() });
    crumbs.push({ label: `${route.entity} / ${route.project}`, href: href.workspace(route.entity, route.project) });
    crumbs.push({ label: "Artifacts", href: href.artifacts(route.entity, route.project) });
    if (route.page !== "artifacts") crumbs.push({ label: route.name, href: href.collection(route.entity, route.project, route.name) });
    if (route.page === "version") crumbs.push({ label: route.version });
  } else if (route.page === "sweeps" || route.page === "sweep") {
    crumbs.push({ label: "Projects", href: href.projects() });
    crumbs.push({ label: `${route.entity} / ${route.project}`, href: href.workspace(route.entity, route.project) });
    crumbs.push({ label: "Sweeps", href: href.sweeps(route.entity, route.project) });
    if (route.page === "sweep") crumbs.push({ label: route.sweepId });
  } else if (route.page === "registry" || route.page === "model" || route.page === "modelVersion" || route.page === "webhooks") {
    crumbs.push({ label: "Projects", href: href.projects() });
    crumbs.push({ label: `${route.entity} registry`, href: href.registry(route.entity) });
    if (route.page === "webhooks") crumbs.push({ label: "Webhooks" });
    if (route.page === "model" || route.page === "modelVersion") crumbs.push({ label: route.model, href: href.model(route.entity, route.model) });
    if (route.page === "modelVersion") crumbs.push({ label: route.version });
  } else if (route.page === "reports" || route.page === "report") {
    crumbs.push({ label: "Projects", href: href.projects() });
    crumbs.push({ label: `${route.entity} / ${route.project}`, href: href.workspace(route.entity, route.project) });
    crumbs.push({ label: "Reports", href: href.reports(route.entity, route.project) });
    if (route.page === "report") crumbs.push({ label: route.reportId });
  } else if (route.page === "inbox") {
    crumbs.push({ label: "Inbox" });
  } else if (route.page === "team") {
    crumbs.push({ label: "Projects", href: href.projects() });
    crumbs.push({ label: `Team ${route.team}` });
  } else if (route.page === "projects") {
    crumbs.push({ label: "Projects" });
  } else if (route.page === "admin") {
    crumbs.push({ label: "Admin" });
  } else if (route.page === "keys") {
    crumbs.push({ label: "API keys" });
  }
  if (crumbs.length === 0) return null;
  return (
    <nav class="breadcrumbs" aria-label="Breadcrumbs" data-testid="breadcrumbs">
      <ol>
        {crumbs.map((c, i) => (
          <li key={i}>
            {c.href !== undefined && i < crumbs.length - 1 ? <a href={c.href}>{c.label}</a> : <span aria-current="page">{c.label}</span>}
          </li>
        ))}
      </ol>
    </nav>
  );
}

/** The dashboard. */
export function App() {
  const route = useRoute();
  // undefined: still asking; null: not signed in
  const [viewer, setViewer] = useState<Viewer | null | undefined>(undefined);
  const [viewerError, setViewerError] = useState<string | null>(null);

  const loadViewer = useCallback((signal?: AbortSignal) => {
    getViewer(signal)
      .then((v) => {
        setViewer(v);
        setViewerError(null);
      })
      .catch((err: unknown) => {
        if (isAbort(err)) return;
        if (err instanceof ApiError && err.status === 401) setViewer(null);
        else setViewerError(err instanceof Error ? err.message : String(err));
      });
  }, []);

  useEffect(() => {
    onUnauthorized(() => {
      setViewer(null);
      const here = currentHash();
      // an invitation link is for people without an account too: it offers to create one
      const at = parseRoute(here).page;
      if (at !== "signin" && at !== "invite") navigate(href.signin(here), true);
    });
    const controller = new AbortController();
    loadViewer(controller.signal);
    return () => {
      controller.abort();
      onUnauthorized(null);
    };
  }, [loadViewer]);

  const onSignedIn = (v: Viewer): void => {
    setViewer(v);
    navigate(safeNext(route.params.next), true);
  };
  const doSignOut = (): void => {
    signOut();
    setViewer(null);
    navigate(href.signin(), false);
  };

  // `fwtrack ui`: one local user, no keys, nothing to administer
  const local = viewer !== undefined && viewer !== null && isLocalViewer(viewer, hasStoredKey());
  const team = viewer !== undefined && viewer !== null && !local;

  let page;
  if (route.page === "signin") {
    page = <SignInPage onSignedIn={onSignedIn} viewer={viewer} />;
  } else if (viewer === undefined && viewerError === null) {
    page = null; // the viewer answers fast; avoid a flash of a page that would redirect
  } else {
    switch (route.page) {
      case "projects":
        page = <ProjectsPage />;
        break;
      case "workspace":
        page = <WorkspacePage key={`${route.entity}/${route.project}`} entity={route.entity} project={route.project} params={route.params} viewer={viewer ?? null} />;
        break;
      case "run":
        page = (
          <RunPage
            key={`${route.entity}/${route.project}/${route.runId}`}
            entity={route.entity}
            project={route.project}
            runId={route.runId}
            params={route.params}
            readOnly={!canWrite(viewer ?? null, route.entity)}
          />
        );
        break;
      case "compare":
        page = <ComparePage key={`${route.entity}/${route.project}`} entity={route.entity} project={route.project} params={route.params} />;
        break;
      case "artifacts":
        page = <ArtifactsPage key={`${route.entity}/${route.project}`} entity={route.entity} project={route.project} params={route.params} />;
        break;
      case "collection":
        page = <CollectionPage key={`${route.entity}/${route.project}/${route.name}`} entity={route.entity} project={route.project} name={route.name} params={route.params} />;
        break;
      case "version":
        page = (
          <VersionPage
            key={`${route.entity}/${route.project}/${route.name}/${route.version}`}
            entity={route.entity}
            project={route.project}
            name={route.name}
            refName={route.version}
            params={route.params}
            readOnly={local || !canWrite(viewer ?? null, route.entity)}
          />
        );
        break;
      case "sweeps":
        page = <SweepsPage key={`${route.entity}/${route.project}`} entity={route.entity} project={route.project} />;
        break;
      case "sweep":
        page = (
          <SweepPage
            key={`${route.entity}/${route.project}/${route.sweepId}`}
            entity={route.entity}
            project={route.project}
            sweepId={route.sweepId}
            params={route.params}
            readOnly={!canWrite(viewer ?? null, route.entity)}
            local={local}
          />
        );
        break;
      case "registry":
        page = <ModelsPage key={route.entity} entity={route.entity} params={route.params} readOnly={local || !canWrite(viewer ?? null, route.entity)} />;
        break;
      case "model":
        page = <ModelPage key={`${route.entity}/${route.model}`} entity={route.entity} model={route.model} params={route.params} readOnly={local || !canWrite(viewer ?? null, route.entity)} />;
        break;
      case "modelVersion":
        page = (
          <ModelVersionPage
            key={`${route.entity}/${route.model}/${route.version}`}
            entity={route.entity}
            model={route.model}
            refName={route.version}
            params={route.params}
            readOnly={local || !canWrite(viewer ?? null, route.entity)}
          />
        );
        break;
      case "webhooks":
        page = <WebhooksPage key={route.entity} entity={route.entity} params={route.params} readOnly={local} />;
        break;
      case "admin":
        page = <AdminPage viewer={viewer} local={local} params={route.params} />;
        break;
      case "keys":
        page = <KeysPage viewer={viewer} local={local} />;
        break;
      case "reports":
        page = <ReportsPage key={`${route.entity}/${route.project}`} entity={route.entity} project={route.project} params={route.params} viewer={viewer ?? null} />;
        break;
      case "report":
        page = (
          <ReportPage
            key={`${route.entity}/${route.project}/${route.reportId}`}
            entity={route.entity}
            project={route.project}
            reportId={route.reportId}
            params={route.params}
            viewer={viewer ?? null}
          />
        );
        break;
      case "inbox":
        page = <InboxPage viewer={viewer ?? null} params={route.params} />;
        break;
      case "team":
        page = <TeamPage key={route.team} team={route.team} viewer={viewer ?? null} params={route.params} />;
        break;
      case "invite":
        page = <InvitePage token={route.token} viewer={viewer ?? null} onSignedIn={onSignedIn} />;
        break;
      case "notfound":
        page = <NotFoundPage path={route.path} />;
        break;
    }
  }

  return (
    <div class="app">
      <a class="skip-link" href="#main" onClick={(e) => {
        e.preventDefault();
        document.getElementById("main")?.focus();
      }}>
        Skip to content
      </a>
      <header class="topbar" data-testid="topbar">
        <a class="brand" href="#/" aria-label="fwtrack home">
          <span class="brand-mark" aria-hidden="true" />
          fwtrack
        </a>
        <Breadcrumbs route={route} />
        <div class="topbar-right">
          {team && (
            <nav class="topbar-nav" aria-label="Account">
              {viewer.is_admin && (
                <a class="topbar-link" href={href.admin()} aria-current={route.page === "admin" ? "page" : undefined} data-testid="nav-admin">
                  Admin
                </a>
              )}
              <a class="topbar-link" href={href.keys()} aria-current={route.page === "keys" ? "page" : undefined} data-testid="nav-keys">
                API keys
              </a>
              <InboxLink current={route.page === "inbox"} />
            </nav>
          )}
          {viewer !== undefined && viewer !== null && (
            <span class="viewer" data-testid="viewer-name" title={viewer.is_admin ? "administrator" : "user"}>
              {viewer.name}
            </span>
          )}
          {viewer !== undefined && viewer !== null && hasStoredKey() && (
            <button type="button" class="btn btn-ghost btn-small" onClick={doSignOut} data-testid="sign-out">
              Sign out
            </button>
          )}
          {viewer === null && route.page !== "signin" && (
            <a class="btn btn-small" href={href.signin(currentHash())}>
              Sign in
            </a>
          )}
        </div>
      </header>
      <main id="main" class="main" tabIndex={-1}>
        <ErrorBoundary resetKey={formatRoute({ ...route, params: {} })}>{page}</ErrorBoundary>
      </main>
    </div>
  );
}
