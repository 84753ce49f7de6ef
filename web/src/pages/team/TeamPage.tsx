// A team: members and their roles (pickers for the team's admins), adding and removing
// members, invitations by one-time link (created with a role and a note, the link shown once
// with a copy button; the pending ones revocable), and the team's audit.

import { useState } from "preact/hooks";
import { describeEvent, listAudit, type AuditEvent } from "../../api/audit";
import {
  addMember,
  createInvitation,
  getTeam,
  listInvitations,
  removeMember,
  revokeInvitation,
  roleOf,
  ROLES,
  setRole,
  type CreatedInvitation,
  type Invitation,
  type TeamInfo,
} from "../../api/teams";
import type { TeamRole, Viewer } from "../../api/types";
import { CopyOnce } from "../../components/CopyOnce";
import { FieldError, TextField } from "../../components/fields";
import { Empty, errorMessage, whenLoaded } from "../../components/states";
import { useAction } from "../../components/useAction";
import { formatDateTime, formatRelative } from "../../lib/format";
import { useAsync } from "../../lib/hooks";
import { href, type Params } from "../../lib/route";
import "../admin/admin.css";
import "./team.css";

const ROLE_HELP: Record<TeamRole, string> = {
  admin: "manages members, roles and invitations, and writes",
  member: "reads and writes runs, reports, artifacts, sweeps",
  viewer: "reads and comments; every write is refused",
};

/** True when the viewer manages `team`: a server admin or one of the team's admins. */
export function isTeamAdmin(viewer: Viewer | null, team: TeamInfo): boolean {
  if (viewer === null) return false;
  return viewer.is_admin || roleOf(team, viewer.name) === "admin";
}

function RolePicker({ value, label, disabled, onPick, testId }: { value: TeamRole; label: string; disabled?: boolean; onPick: (r: TeamRole) => void; testId: string }) {
  return (
    <select
      class="input input-small"
      aria-label={label}
      value={value}
      disabled={disabled}
      onChange={(e) => {
        onPick(e.currentTarget.value as TeamRole);
      }}
      data-testid={testId}
    >
      {ROLES.map((r) => (
        <option key={r} value={r} title={ROLE_HELP[r]}>
          {r}
        </option>
      ))}
    </select>
  );
}

function Members({ team, viewer, admin, onTeam }: { team: TeamInfo; viewer: Viewer | null; admin: boolean; onTeam: (t: TeamInfo) => void }) {
  const action = useAction();
  const [user, setUser] = useState("");
  const [role, setNewRole] = useState<TeamRole>("member");
  const canAdd = admin || (viewer !== null && roleOf(team, viewer.name) === "member");
  const change = (what: string, work: () => Promise<TeamInfo>): void => {
    void action.run(
      async () => {
        onTeam(await work());
      },
      (err) => `could not ${what}: ${errorMessage(err)}`,
    );
  };
  return (
    <section class="card team-section" aria-labelledby="team-members-title" data-testid="team-members">
      <h2 id="team-members-title" class="section-title">
        Members <span class="muted">{team.members.length}</span>
      </h2>
      <table class="table team-table">
        <thead>
          <tr>
            <th scope="col">User</th>
            <th scope="col">Role</th>
            <th scope="col" />
          </tr>
        </thead>
        <tbody>
          {team.members.map((m) => {
            const r = roleOf(team, m);
            const self = viewer?.name === m;
            return (
              <tr key={m} data-testid="team-member-row" data-member={m} data-role={r}>
                <td>
                  {m}
                  {self && <span class="muted"> (you)</span>}
                </td>
                <td>
                  {admin ? (
                    <RolePicker
                      value={r}
                      label={`Role of ${m}`}
                      disabled={action.busy}
                      onPick={(next) => {
                        if (next !== r) change(`change the role of ${m}`, () => setRole(team.name, m, next));
                      }}
                      testId="member-role"
                    />
                  ) : (
                    <span class={`role role-${r}`} data-testid="member-role-label" title={ROLE_HELP[r]}>
                      {r}
                    </span>
                  )}
                </td>
                <td class="team-actions">
                  {(admin || self) && (
                    <button
                      type="button"
                      class="btn btn-small btn-danger-ghost"
                      disabled={action.busy}
                      aria-label={self ? `Leave ${team.name}` : `Remove ${m} from ${team.name}`}
                      onClick={() => {
                        change(self ? `leave ${team.name}` : `remove ${m}`, () => removeMember(team.name, m));
                      }}
                      data-testid="member-remove"
                    >
                      {self ? "Leave" : "Remove"}
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {canAdd && (
        <form
          class="inline-form"
          aria-label={`Add a member to ${team.name}`}
          onSubmit={(e) => {
            e.preventDefault();
            if (user.trim() === "") {
              action.setError("enter the name of a user of this server");
              return;
            }
            change(`add ${user.trim()}`, async () => {
              const t = await addMember(team.name, user.trim(), role);
              setUser("");
              return t;
            });
          }}
          data-testid="member-add-form"
        >
          <TextField label="User" value={user} autocomplete="off" spellcheck={false} onValue={setUser} testId="member-add-name" />
          <label class="field">
            <span class="field-label">Role</span>
            <RolePicker value={role} label="Role of the new member" onPick={setNewRole} testId="member-add-role" />
          </label>
          <button type="submit" class="btn" disabled={action.busy} data-testid="member-add-submit">
            Add member
          </button>
        </form>
      )}
      <FieldError error={action.error} testId="team-members-error" />
    </section>
  );
}

function NewLink({ made, onDone }: { made: CreatedInvitation; onDone: () => void }) {
  return (
    <div class="new-key card" role="status" data-testid="invite-link" data-role={made.role}>
      <p>
        <strong>Invitation link ({made.role}).</strong> Copy it now: it is shown only once and works once, until {formatDateTime(made.expires_at)}.
      </p>
      <CopyOnce value={made.url} label="Invitation link" what="link" testid="invite-link" onDone={onDone} />
    </div>
  );
}

function Invitations({ team, onChanged }: { team: string; onChanged: () => void }) {
  const pending = useAsync((signal) => listInvitations(team, signal), [team]);
  const action = useAction();
  const [role, setNewRole] = useState<TeamRole>("member");
  const [note, setNote] = useState("");
  const [made, setMade] = useState<CreatedInvitation | null>(null);
  const create = (e: Event): void => {
    e.preventDefault();
    void action.run(
      async () => {
        setMade(await createInvitation(team, role, note));
        setNote("");
        pending.reload();
        onChanged();
      },
      (err) => `could not create the invitation: ${errorMessage(err)}`,
    );
  };
  const revoke = (inv: Invitation): void => {
    void action.run(
      async () => {
        await revokeInvitation(team, inv.id);
        pending.reload();
        onChanged();
      },
      (err) => `could not revoke the invitation: ${errorMessage(err)}`,
    );
  };
  return (
    <section class="card team-section" aria-labelledby="team-invites-title" data-testid="team-invitations">
      <h2 id="team-invites-title" class="section-title">
        Invitations
      </h2>
      <form class="inline-form" onSubmit={create} aria-label="Invite someone" data-testid="invite-form">
        <label class="field">
          <span class="field-label">Role</span>
          <RolePicker value={role} label="Role of the invited person" onPick={setNewRole} testId="invite-role" />
        </label>
        <TextField label="Note" value={note} maxLength={256} placeholder="e.g. for Dana, evaluation work" onValue={setNote} testId="invite-note" />
        <button type="submit" class="btn btn-primary" disabled={action.busy} data-testid="invite-create">
          {action.busy ? "Creating…" : "Create link"}
        </button>
        <p class="hint">The link works once, for 7 days. Whoever opens it joins the team with the role ({ROLE_HELP[role]}).</p>
      </form>
      {made !== null && (
        <NewLink
          made={made}
          onDone={() => {
            setMade(null);
          }}
        />
      )}
      <FieldError error={action.error} testId="invite-error" />
      {whenLoaded(pending, { loading: "Loading invitations…" }, (list) =>
        list.length === 0 ? (
          <p class="muted" data-testid="invite-none">
            No pending invitations.
          </p>
        ) : (
          <table class="table team-table" data-testid="invite-pending">
            <thead>
              <tr>
                <th scope="col">Role</th>
                <th scope="col">Note</th>
                <th scope="col">By</th>
                <th scope="col">Expires</th>
                <th scope="col" />
              </tr>
            </thead>
            <tbody>
              {list.map((inv) => (
                <tr key={inv.id} data-testid="invite-row" data-id={inv.id}>
                  <td>{inv.role}</td>
                  <td>{inv.note}</td>
                  <td>{inv.created_by}</td>
                  <td title={formatDateTime(inv.expires_at)}>{formatDateTime(inv.expires_at)}</td>
                  <td class="team-actions">
                    <button
                      type="button"
                      class="btn btn-small btn-danger-ghost"
                      disabled={action.busy}
                      aria-label={`Revoke the ${inv.role} invitation ${inv.note}`}
                      onClick={() => {
                        revoke(inv);
                      }}
                      data-testid="invite-revoke"
                    >
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ),
      )}
    </section>
  );
}

function Audit({ team, nonce }: { team: string; nonce: number }) {
  const [older, setOlder] = useState<AuditEvent[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const first = useAsync(
    async (signal) => {
      const page = await listAudit({ entity: team, limit: 50 }, signal);
      setOlder([]);
      setNext(page.next);
      return page.events;
    },
    [team, nonce],
  );
  const action = useAction();
  const more = (): void => {
    if (next === null) return;
    void action.run(async () => {
      const page = await listAudit({ entity: team, limit: 50, before: next });
      setOlder((o) => [...o, ...page.events]);
      setNext(page.next);
    });
  };
  const now = Date.now() / 1000;
  return (
    <section class="card team-section" aria-labelledby="team-audit-title" data-testid="team-audit">
      <h2 id="team-audit-title" class="section-title">
        Audit
      </h2>
      {whenLoaded(first, { loading: "Loading the audit…" }, (events) => {
        const all = [...events, ...older];
        if (all.length === 0) return <p class="muted">Nothing recorded yet.</p>;
        return (
          <ol class="audit-list">
            {all.map((e) => (
              <li key={e.id} data-testid="audit-event" data-action={e.action} data-actor={e.actor} data-target={e.target}>
                <time title={formatDateTime(e.at)}>{formatRelative(e.at, now)}</time> <span>{describeEvent(e)}</span>
              </li>
            ))}
          </ol>
        );
      })}
      {next !== null && (
        <button type="button" class="btn btn-small" disabled={action.busy} onClick={more} data-testid="audit-more">
          Older
        </button>
      )}
      <FieldError error={action.error} />
    </section>
  );
}

/** `#/teams/<team>`: members, roles, invitations and audit of one team. */
export function TeamPage(props: { team: string; viewer: Viewer | null; params: Params }) {
  const loaded = useAsync((signal) => getTeam(props.team, signal), [props.team]);
  const [changed, setChanged] = useState<TeamInfo | null>(null);
  const [nonce, setNonce] = useState(0);
  const bump = (): void => {
    setNonce((n) => n + 1);
  };
  return (
    <div class="page team-page" data-testid="team-page" data-team={props.team}>
      <h1 class="page-title">Team {props.team}</h1>
      {whenLoaded(loaded, { loading: "Loading the team…", failed: "Could not load the team" }, (fetched) => {
        const team = changed !== null && changed.name === fetched.name ? changed : fetched;
        const admin = isTeamAdmin(props.viewer, team);
        const mine = props.viewer !== null ? team.roles?.[props.viewer.name] : undefined;
        const left = props.viewer !== null && !team.members.includes(props.viewer.name) && !props.viewer.is_admin;
        if (left) {
          return (
            <Empty title={`You are not a member of ${team.name}`}>
              <a href={href.projects()}>Back to projects</a>
            </Empty>
          );
        }
        return (
          <>
            {mine !== undefined && (
              <p class="muted" data-testid="team-my-role" data-role={mine}>
                Your role: <strong>{mine}</strong> — {ROLE_HELP[mine]}.
              </p>
            )}
            <Members
              team={team}
              viewer={props.viewer}
              admin={admin}
              onTeam={(t) => {
                setChanged(t);
                bump();
              }}
            />
            {admin && <Invitations team={team.name} onChanged={bump} />}
            {admin && <Audit team={team.name} nonce={nonce} />}
          </>
        );
      })}
    </div>
  );
}
