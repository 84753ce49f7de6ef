// A table of API keys (prefix, description, times, status) with revoke behind a confirmation.

import { useState } from "preact/hooks";
import { storedApiKey } from "../../api/client";
import { isKey, keyStatus, revokeKey, type KeyInfo, type KeyStatus } from "../../api/keys";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { Empty } from "../../components/states";
import { ActionsCell, CardTable } from "../../components/Table";
import { formatDateTime, formatRelative } from "../../lib/format";

const STATUS_LABEL: Record<KeyStatus, string> = { active: "Active", revoked: "Revoked", expired: "Expired" };

function when(t: number | null, now: number, never: string) {
  return t === null ? <span class="muted">{never}</span> : <span title={formatDateTime(t)}>{formatRelative(t, now)}</span>;
}

/** `keys` of `owner`; `onRevoked` receives the id of a key the server revoked. */
export function KeysTable({ owner, keys, onRevoked }: { owner: string; keys: readonly KeyInfo[]; onRevoked: (id: number) => void }) {
  const [revoking, setRevoking] = useState<KeyInfo | null>(null);
  const now = Date.now() / 1000;
  if (keys.length === 0) return <Empty title={`${owner} has no API keys`} />;
  const mine = revoking !== null && isKey(revoking, storedApiKey());
  return (
    <>
      <CardTable columns={["Key", "Description", "Created", "Last used", "Expires", "Status"]} actions testId="keys-table" label={`API keys of ${owner}`}>
        {keys.map((k) => {
          const status = keyStatus(k, now);
          return (
            <tr key={k.id} data-testid="key-row" data-key-id={k.id} data-prefix={k.prefix} data-status={status}>
              <td class="mono nowrap">{k.prefix}…</td>
              <td>{k.description === "" ? <span class="muted">-</span> : k.description}</td>
              <td class="nowrap">{when(k.created_at, now, "-")}</td>
              <td class="nowrap">{when(k.last_used_at, now, "never")}</td>
              <td class="nowrap">{k.expires_at === null ? <span class="muted">never</span> : formatDateTime(k.expires_at)}</td>
              <td>
                <span class={`badge badge-key-${status}`} data-testid="key-status">
                  {STATUS_LABEL[status]}
                </span>
              </td>
              <ActionsCell>
                {status !== "revoked" && (
                  <button
                    type="button"
                    class="btn btn-small btn-danger-ghost"
                    aria-label={`Revoke key ${k.prefix}`}
                    onClick={() => {
                      setRevoking(k);
                    }}
                    data-testid="key-revoke"
                  >
                    Revoke
                  </button>
                )}
              </ActionsCell>
            </tr>
          );
        })}
      </CardTable>
      {revoking !== null && (
        <ConfirmDialog
          title={`Revoke key ${revoking.prefix}…?`}
          confirmLabel="Revoke"
          danger
          onCancel={() => {
            setRevoking(null);
          }}
          onConfirm={async () => {
            await revokeKey(revoking.id);
            setRevoking(null);
            onRevoked(revoking.id);
          }}
        >
          <p>Every program using this key gets 401 from now on. A revoked key cannot be restored.</p>
          {mine && (
            <p>
              <strong>This browser is signed in with this key:</strong> you will be signed out.
            </p>
          )}
        </ConfirmDialog>
      )}
    </>
  );
}
