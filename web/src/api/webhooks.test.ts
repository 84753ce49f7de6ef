import { describe, expect, it } from "vitest";
import { ApiError } from "./client";
import { createWebhook, deleteWebhook, listDeliveries, listWebhooks, parseDelivery, patchWebhook, testWebhook } from "./webhooks";
import { json, stubFetch } from "./test-utils";

const server = stubFetch("fwk_test");

function delivery(partial: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 7,
    webhook_id: 3,
    event: "ping",
    payload: { event: "ping", delivery: 7 },
    status: "delivered",
    attempts: 1,
    next_attempt_at: 1765000000,
    last_status: 200,
    last_error: null,
    created_at: 1765000000,
    delivered_at: 1765000001,
    ...partial,
  };
}

function hook(partial: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 3,
    entity: "lab",
    url: "http://127.0.0.1:9/hook",
    events: ["ping"],
    active: true,
    description: null,
    created_at: 1765000000,
    created_by: "admin",
    last_delivery: delivery(),
    ...partial,
  };
}

function call(i: number): { url: URL; init: RequestInit } {
  const c = server.calls[i];
  if (c === undefined) throw new Error(`no call ${i}`);
  return c;
}

describe("webhooks client", () => {
  it("lists an entity's webhooks with their last delivery, ids as text", async () => {
    server.answer = () => json([hook(), hook({ id: 4, last_delivery: null, active: false })]);
    const list = await listWebhooks("team a");
    expect(call(0).url.pathname).toBe("/api/v1/webhooks/team%20a");
    expect(list.map((w) => w.id)).toEqual(["3", "4"]);
    expect(list[0]?.last_delivery?.status).toBe("delivered");
    expect(list[1]?.last_delivery).toBeNull();
    expect(list[1]?.active).toBe(false);
  });

  it("creates one and keeps the secret answered once", async () => {
    server.answer = () => json({ ...hook(), secret: "s3cret" }, 201);
    const created = await createWebhook("lab", { url: "http://127.0.0.1:9/hook", events: ["ping"] });
    expect(call(0).init.method).toBe("POST");
    expect(JSON.parse(call(0).init.body as string)).toEqual({ url: "http://127.0.0.1:9/hook", events: ["ping"] });
    expect(created.secret).toBe("s3cret");
    expect(created.id).toBe("3");
  });

  it("patches, deletes, tests and reads the deliveries of one webhook", async () => {
    server.answer = (url, init) => {
      if (url.pathname.endsWith("/deliveries")) return json([delivery({ id: 1, created_at: 10 }), delivery({ id: 2, created_at: 20, status: "failed", last_status: 500, last_error: "HTTP 500" })]);
      if (init.method === "PATCH") return json(hook({ active: false }));
      return json({});
    };
    expect((await patchWebhook("lab", "3", { active: false })).active).toBe(false);
    expect(call(0).url.pathname).toBe("/api/v1/webhooks/lab/3");
    expect(call(0).init.method).toBe("PATCH");
    await testWebhook("lab", "3");
    expect(call(1).url.pathname).toBe("/api/v1/webhooks/lab/3/test");
    expect(call(1).init.method).toBe("POST");
    const log = await listDeliveries("lab", "3", 25);
    expect(call(2).url.searchParams.get("limit")).toBe("25");
    expect(log.map((d) => d.id)).toEqual(["2", "1"]);
    expect(log[0]).toMatchObject({ status: "failed", last_status: 500, last_error: "HTTP 500" });
    await deleteWebhook("lab", "3");
    expect(call(3).init.method).toBe("DELETE");
  });

  it("parses a payload sent as text, and keeps text that is not JSON", () => {
    expect(parseDelivery(delivery({ payload: '{"event":"ping"}' })).payload).toEqual({ event: "ping" });
    expect(parseDelivery(delivery({ payload: "not json" })).payload).toBe("not json");
    expect(parseDelivery({ status: "weird" }).status).toBe("pending");
  });

  it("answers a refused URL as the server's 400", async () => {
    server.answer = () => json({ detail: "the webhook URL must be http or https" }, 400);
    const err = await createWebhook("lab", { url: "ftp://x" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).detail).toMatch(/http or https/);
  });
});
