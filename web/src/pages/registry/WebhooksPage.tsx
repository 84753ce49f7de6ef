// The webhooks of an entity (`#/registry/{entity}/webhooks?hook=`): where registry events are
// POSTed. Add one (its signing secret is shown once), send it a test ping, delete it, and read
// the delivery log of the one picked (`hook`): status, attempts, the receiver's last status or
// error, and the payload sent. The log is polled while it is open. Entity admins only.

import { useEffect, useRef, useState } from "preact/hooks";
import {
  createWebhook,
  deleteWebhook,
  listDeliveries,
  listWebhooks,
  testWebhook,
  WEBHOOK_EVENTS,
  type CreatedWebhook,
  type Delivery,
  type Webhook,
} from "../../api/webhooks";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { FieldError, TextField } from "../../components/fields";
import { Empty, ErrorState, Loading, whenLoaded } from "../../components/states";
import { ActionsCell, CardTable, type Column } from "../../components/Table";
import { useAction } from "../../components/useAction";
import { formatDateTime, formatRelative } from "../../lib/format";
import { useAsync, useNow } from "../../lib/hooks";
import { poll } from "../../lib/poll";
import { href, navigate, withParams, type Params } from "../../lib/route";
import { RegistryNav } from "./common";
import "./registry.css";

/** How often the open delivery log asks for news. */
const LOG_POLL_MS = 1000;

function StatusBadge({ status }: { status: Delivery["status"] }) {
  return (
    <span class={`badge delivery-${status}`} data-testid="delivery-status" data-status={status}>
      {status}
    </span>
  );
}

function NewWebhook({ entity, onCreated }: { entity: string; onCreated: (w: CreatedWebhook) => void }) {
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [events, setEvents] = useState<string[]>([...WEBHOOK_EVENTS]);
  const action = useAction();
  return (
    <form
      class="card registry-form"
      aria-label="Add a webhook"
      data-testid="new-webhook"
      onSubmit={(e) => {
        e.preventDefault();
        const u = url.trim();
        if (!/^https?:\/\/\S+$/i.test(u)) {
          action.setError("the URL must start with http:// or https://");
          return;
        }
        if (events.length === 0) {
          action.setError("pick at least one event");
          return;
        }
        void action.run(async () => {
          const body: { url: string; events: string[]; description?: string } = { url: u, events };
          if (description.trim() !== "") body.description = description.trim();
          onCreated(await createWebhook(entity, body));
          setUrl("");
          setDescription("");
        });
      }}
    >
      <h2 class="section-title">Add a webhook</h2>
      <div class="registry-form-row">
        <TextField label="Payload URL" value={url} onValue={setUrl} testId="webhook-url" placeholder="https://example.com/hooks/fwtrack" mono />
        <TextField label="Description" value={description} onValue={setDescription} testId="webhook-description" placeholder="optional" />
      </div>
      <fieldset class="webhook-events">
        <legend>Events</legend>
        {WEBHOOK_EVENTS.map((ev) => (
          <label key={ev} class="checkbox">
            <input
              type="checkbox"
              checked={events.includes(ev)}
              data-testid="webhook-event"
              data-event={ev}
              onChange={(e) => {
                const on = e.currentTarget.checked;
                setEvents((cur) => (on ? [...cur, ev] : cur.filter((x) => x !== ev)));
              }}
            />{" "}
            <code>{ev}</code>
          </label>
        ))}
      </fieldset>
      <button type="submit" class="btn btn-primary" disabled={action.busy} data-testid="webhook-add">
        {action.busy ? "Adding…" : "Add webhook"}
      </button>
      <FieldError error={action.error} testId="webhook-error" />
    </form>
  );
}

function Secret({ hook, onDone }: { hook: CreatedWebhook; onDone: () => void }) {
  return (
    <section class="new-key card" aria-label="The new webhook's secret" data-testid="webhook-secret">
      <p role="status">
        <strong>Signing secret of {hook.url}.</strong> Copy it now: it is shown only once. Receivers check <code>X-Fwtrack-Signature-256</code> with it.
      </p>
      <div class="new-key-row">
        <input class="input mono new-key-value" readOnly value={hook.secret} aria-label="Signing secret" spellcheck={false} data-testid="webhook-secret-value" />
        <button type="button" class="btn btn-ghost" onClick={onDone} data-testid="webhook-secret-done">
          Done
        </button>
      </div>
    </section>
  );
}

const HOOK_COLUMNS: readonly Column[] = [{ label: "URL" }, { label: "Events" }, { label: "Active" }, { label: "Last delivery" }, { label: "Created" }];

function Payload({ payload }: { payload: Delivery["payload"] }) {
  return (
    <details class="delivery-payload">
      <summary>Payload</summary>
      <pre class="mono" data-testid="delivery-payload">
        {JSON.stringify(payload, null, 2)}
      </pre>
    </details>
  );
}

const DELIVERY_COLUMNS: readonly Column[] = [
  { label: "Event" },
  { label: "Status" },
  { label: "Attempts", class: "num" },
  { label: "Last status", class: "num" },
  { label: "Last error" },
  { label: "Created" },
  { label: "Delivered" },
  { label: "Payload" },
];

/**
 * The delivery log of one webhook, polled while shown (a test ping shows up within seconds);
 * `onNews` is called when a delivery appears or changes status (the list's "last delivery").
 */
function Deliveries({ entity, hook, nonce, onNews }: { entity: string; hook: Webhook; nonce: number; onNews: () => void }) {
  const [list, setList] = useState<Delivery[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const now = useNow(5_000);
  const newsRef = useRef(onNews);
  newsRef.current = onNews;
  useEffect(() => {
    setList(null);
    setError(null);
    let seen: string | null = null;
    return poll(async (signal) => {
      try {
        const next = await listDeliveries(entity, hook.id, 50, signal);
        const sig = next.map((d) => `${d.id}:${d.status}:${d.attempts}`).join(",");
        // The first answer counts too: a delivery may have settled between the list's last
        // load and this log's first poll (a test ping delivered at once), and the list's
        // "last delivery" must follow it.
        if (sig !== seen) newsRef.current();
        seen = sig;
        setList(next);
        setError(null);
      } catch (err) {
        if (!signal.aborted) setError(err);
      }
    }, LOG_POLL_MS);
  }, [entity, hook.id, nonce]);
  let body;
  if (list === null) body = error === null ? <Loading label="Loading deliveries…" /> : <ErrorState title="Cannot load the deliveries" error={error} />;
  else if (list.length === 0) body = <Empty title="Nothing delivered yet">{"Press Test to send a ping."}</Empty>;
  else
    body = (
      <CardTable columns={DELIVERY_COLUMNS} testId="delivery-log" label={`Deliveries to ${hook.url}`}>
        {list.map((d) => (
          <tr key={d.id} data-testid="delivery-row" data-event={d.event} data-status={d.status} data-delivery={d.id}>
            <td>
              <code>{d.event}</code>
            </td>
            <td>
              <StatusBadge status={d.status} />
            </td>
            <td class="num" data-testid="delivery-attempts">
              {d.attempts}
            </td>
            <td class="num" data-testid="delivery-last-status">
              {d.last_status ?? <span class="muted">-</span>}
            </td>
            <td class="delivery-error">{d.last_error ?? <span class="muted">-</span>}</td>
            <td title={formatDateTime(d.created_at)}>{formatRelative(d.created_at, now)}</td>
            <td>{d.delivered_at === null ? <span class="muted">-</span> : <span title={formatDateTime(d.delivered_at)}>{formatRelative(d.delivered_at, now)}</span>}</td>
            <td>
              <Payload payload={d.payload} />
            </td>
          </tr>
        ))}
      </CardTable>
    );
  return (
    <section class="delivery-section" aria-label={`Delivery log of ${hook.url}`} data-testid="deliveries" data-hook={hook.id}>
      <h2 class="section-title">
        Deliveries to <code>{hook.url}</code>
      </h2>
      {body}
    </section>
  );
}

function Hooks({ entity, hooks, selected, onSelect, onChanged }: {
  entity: string;
  hooks: readonly Webhook[];
  selected: string | undefined;
  onSelect: (id: string) => void;
  onChanged: (tested?: string) => void;
}) {
  const now = useNow(30_000);
  const action = useAction();
  const [doomed, setDoomed] = useState<Webhook | null>(null);
  return (
    <>
      <CardTable columns={HOOK_COLUMNS} actions testId="webhooks-table" label={`Webhooks of ${entity}`}>
        {hooks.map((w) => (
          <tr key={w.id} data-testid="webhook-row" data-hook={w.id} data-url={w.url} aria-selected={w.id === selected}>
            <td>
              <code class="wrap">{w.url}</code>
              {w.description !== null && w.description !== "" && <div class="muted">{w.description}</div>}
            </td>
            <td>{w.events.length === 0 ? "all" : w.events.map((e) => <code key={e} class="webhook-event-name">{e}</code>)}</td>
            <td>{w.active ? "yes" : <span class="muted">no</span>}</td>
            <td>{w.last_delivery === null ? <span class="muted">-</span> : <StatusBadge status={w.last_delivery.status} />}</td>
            <td title={formatDateTime(w.created_at)}>{formatRelative(w.created_at, now)}</td>
            <ActionsCell>
              <button
                type="button"
                class="btn btn-small"
                disabled={action.busy}
                aria-label={`Send a test ping to ${w.url}`}
                data-testid="webhook-test"
                onClick={() => {
                  void action.run(async () => {
                    await testWebhook(entity, w.id);
                    onChanged(w.id);
                  });
                }}
              >
                Test
              </button>
              <button type="button" class="btn btn-small" aria-label={`Deliveries to ${w.url}`} data-testid="webhook-log" onClick={() => { onSelect(w.id); }}>
                Deliveries
              </button>
              <button type="button" class="btn btn-small btn-danger-ghost" aria-label={`Delete the webhook to ${w.url}`} data-testid="webhook-delete" onClick={() => { setDoomed(w); }}>
                Delete
              </button>
            </ActionsCell>
          </tr>
        ))}
      </CardTable>
      <FieldError error={action.error} testId="webhook-action-error" />
      {doomed !== null && (
        <ConfirmDialog
          title="Delete this webhook?"
          confirmLabel="Delete"
          danger
          onCancel={() => {
            setDoomed(null);
          }}
          onConfirm={async () => {
            await deleteWebhook(entity, doomed.id);
            setDoomed(null);
            onChanged();
          }}
        >
          <p>
            Events will no longer be sent to <code>{doomed.url}</code>, and its delivery log goes with it.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}

/** `#/registry/{entity}/webhooks?hook=`. */
export function WebhooksPage({ entity, params, readOnly }: { entity: string; params: Params; readOnly: boolean }) {
  const hooks = useAsync((signal) => listWebhooks(entity, signal), [entity]);
  const [created, setCreated] = useState<CreatedWebhook | null>(null);
  const [nonce, setNonce] = useState(0);
  const selected = params.hook;
  const select = (id: string | undefined): void => {
    navigate(href.webhooks(entity, withParams(params, { hook: id })), true);
  };
  if (readOnly) {
    return (
      <div class="page registry-page" data-testid="webhooks-page">
        <h1 class="page-title">Webhooks</h1>
        <RegistryNav entity={entity} current="webhooks" local />
        <Empty title="Webhooks are sent by a server">
          <p>
            <code>fwtrack ui</code> shows a local directory; add webhooks on the <code>fwtrack server</code> the runs sync to.
          </p>
        </Empty>
      </div>
    );
  }
  const current = hooks.data?.find((w) => w.id === selected);
  return (
    <div class="page registry-page" data-testid="webhooks-page">
      <div class="run-header">
        <h1 class="page-title">Webhooks</h1>
        <span class="muted">{entity}</span>
      </div>
      <RegistryNav entity={entity} current="webhooks" local={false} />
      <p class="muted">Registry events of {entity} (a version linked, an alias moved) are POSTed as JSON to each webhook, signed with its secret.</p>
      {created !== null && (
        <Secret
          hook={created}
          onDone={() => {
            setCreated(null);
          }}
        />
      )}
      {whenLoaded(hooks, { loading: "Loading webhooks…", failed: "Cannot load the webhooks" }, (list) =>
        list.length === 0 ? (
          <Empty title={`No webhooks for ${entity} yet`} />
        ) : (
          <Hooks
            entity={entity}
            hooks={list}
            selected={selected}
            onSelect={select}
            onChanged={(tested) => {
              hooks.reload();
              if (tested !== undefined) {
                if (tested === selected) setNonce((n) => n + 1);
                else select(tested);
              }
            }}
          />
        ),
      )}
      {current !== undefined && <Deliveries entity={entity} hook={current} nonce={nonce} onNews={hooks.reload} />}
      <NewWebhook
        entity={entity}
        onCreated={(w) => {
          setCreated(w);
          hooks.reload();
          select(w.id);
        }}
      />
    </div>
  );
}
