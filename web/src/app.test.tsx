import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { App } from "./app";
import { mount, settle } from "./components/test-utils";

let status = 200;
let viewer = { name: "ann", is_admin: false, teams: [] as string[] };

function json(body: unknown, s = 200): Response {
  return new Response(JSON.stringify(body), { status: s, headers: { "Content-Type": "application/json" } });
}

let unmount: () => void = () => undefined;

beforeEach(() => {
  localStorage.clear();
  status = 200;
  viewer = { name: "ann", is_admin: false, teams: [] };
  vi.stubGlobal("fetch", (input: URL | string) => {
    const url = new URL(String(input));
    if (status === 401) return Promise.resolve(json({ detail: "missing API key" }, 401));
    if (url.pathname === "/api/v1/viewer") return Promise.resolve(json(viewer));
    if (url.pathname === "/api/v1/projects") {
      return Promise.resolve(json({ projects: [{ entity: "ann", name: "mnist", run_count: 3, last_activity: null }] }));
    }
    return Promise.resolve(json({ detail: "Not Found" }, 404));
  });
});

afterEach(() => {
  unmount();
  vi.unstubAllGlobals();
  window.location.hash = "";
});

async function open(hash: string): Promise<HTMLElement> {
  window.location.hash = hash;
  const m = mount(<App />);
  unmount = m.unmount;
  await settle();
  await settle();
  return m.container;
}

describe("App", () => {
  it("shows the viewer and the projects", async () => {
    const c = await open("#/");
    expect(c.querySelector("[data-testid=viewer-name]")?.textContent).toBe("ann");
    expect(c.querySelector("[data-testid=project-row]")?.getAttribute("data-project")).toBe("ann/mnist");
    expect(c.querySelector("[data-testid=project-row] a")?.getAttribute("href")).toBe("#/p/ann/mnist");
    // fwtrack ui: no stored key, so nothing to sign out of
    expect(c.querySelector("[data-testid=sign-out]")).toBeNull();
  });

  it("sends a 401 to the sign-in page with the route to come back to", async () => {
    status = 401;
    await open("#/p/ann/mnist?sort=name");
    await settle();
    expect(window.location.hash).toBe("#/signin?next=" + encodeURIComponent("#/p/ann/mnist?sort=name").replace(/%2F/g, "/"));
  });

  it("links the admin page for an admin of a team server, API keys for every user", async () => {
    localStorage.setItem("fwtrack.apiKey", "fwk_ann");
    let c = await open("#/");
    expect(c.querySelector("[data-testid=nav-admin]")).toBeNull();
    expect(c.querySelector("[data-testid=nav-keys]")?.getAttribute("href")).toBe("#/keys");
    unmount();
    viewer = { name: "root", is_admin: true, teams: [] };
    c = await open("#/admin");
    expect(c.querySelector("[data-testid=nav-admin]")?.getAttribute("href")).toBe("#/admin");
    expect(c.querySelector("[data-testid=nav-admin]")?.getAttribute("aria-current")).toBe("page");
    expect(c.querySelector("[data-testid=admin-page]")).not.toBeNull();
  });

  it("hides the admin page on the local dashboard (fwtrack ui)", async () => {
    viewer = { name: "local", is_admin: true, teams: [] };
    const c = await open("#/admin");
    expect(c.querySelector("[data-testid=nav-admin]")).toBeNull();
    expect(c.querySelector("[data-testid=nav-keys]")).toBeNull();
    expect(c.querySelector("[data-testid=admin-page] [data-testid=empty]")?.textContent).toMatch(/local dashboard/);
  });

  it("answers unknown routes with a 404 page", async () => {
    const c = await open("#/no/such/page");
    expect(c.querySelector("[data-testid=not-found]")).not.toBeNull();
  });
});
