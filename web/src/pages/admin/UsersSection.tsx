// The users of a team server: create (the first key shown once), disable/enable, admin flag,
// reset password, and a link to each user's keys.

import { useState } from "preact/hooks";
import type { Viewer } from "../../api/types";
import { MIN_PASSWORD, createUser, updateUser, type CreatedUser, type UserInfo, type UserPatch } from "../../api/users";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { FieldError, TextField } from "../../components/fields";
import { Empty, errorMessage } from "../../components/states";
import { ActionsCell, CardTable } from "../../components/Table";
import { useAction } from "../../components/useAction";
import { formatDate } from "../../lib/format";
import { href } from "../../lib/route";
import { passwordProblem } from "./access";
import { NewKey } from "./NewKey";

type Pending = { kind: "disable" | "admin" | "password"; user: UserInfo };

/** A password being set (browsers offer to generate one, and don't fill in a saved one). */
function NewPasswordField(props: { label: string; value: string; onValue: (value: string) => void; testId: string }) {
  return <TextField {...props} type="password" autocomplete="new-password" />;
}

/** Create a user: name, optional password, admin flag; answers the new user and its key. */
function CreateUserForm({ onCreated }: { onCreated: (created: CreatedUser) => void }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [admin, setAdmin] = useState(false);
  const action = useAction();

  const submit = (e: Event): void => {
    e.preventDefault();
    if (name.trim() === "") {
      action.setError("enter a name (letters, digits, '_', '.', '-'; at most 64)");
      return;
    }
    const problem = password === "" ? null : passwordProblem(password, MIN_PASSWORD);
    if (problem !== null) {
      action.setError(`${problem}, or leave it empty for a user with API keys only`);
      return;
    }
    void action.run(async () => {
      onCreated(await createUser({ name, password, is_admin: admin }));
      setName("");
      setPassword("");
      setAdmin(false);
    });
  };

  return (
    <form class="inline-form card" onSubmit={submit} aria-label="Create a user" data-testid="create-user-form">
      <TextField label="Name" value={name} autocomplete="off" spellcheck={false} onValue={setName} testId="create-user-name" />
      <NewPasswordField label="Password (optional)" value={password} onValue={setPassword} testId="create-user-password" />
      <label class="check-inline">
        <input
          type="checkbox"
          checked={admin}
          onChange={(e) => {
            setAdmin(e.currentTarget.checked);
          }}
          data-testid="create-user-admin"
        />
        Administrator
      </label>
      <button type="submit" class="btn btn-primary" disabled={action.busy} data-testid="create-user-submit">
        {action.busy ? "Creating…" : "Create user"}
      </button>
      <FieldError error={action.error} class="inline-form-error" />
    </form>
  );
}

/** The dialog confirming one change to one user. */
function ChangeDialog({ pending, onApply, onClose }: { pending: Pending; onApply: (patch: UserPatch) => Promise<void>; onClose: () => void }) {
  const [password, setPassword] = useState("");
  const { user } = pending;
  if (pending.kind === "password") {
    return (
      <ConfirmDialog
        title={`Reset the password of ${user.name}?`}
        confirmLabel="Set password"
        onCancel={onClose}
        onConfirm={async () => {
          const problem = passwordProblem(password, MIN_PASSWORD);
          if (problem !== null) throw new Error(problem);
          await onApply({ password });
        }}
      >
        <p>{user.has_password ? "The old password stops working." : `${user.name} has no password yet.`} Their API keys keep working.</p>
        <NewPasswordField label="New password" value={password} onValue={setPassword} testId="reset-password-input" />
      </ConfirmDialog>
    );
  }
  if (pending.kind === "disable") {
    return (
      <ConfirmDialog title={`Disable ${user.name}?`} confirmLabel="Disable" danger onCancel={onClose} onConfirm={() => onApply({ disabled: true })}>
        <p>Their API keys and password stop working at once. You can enable them again later.</p>
      </ConfirmDialog>
    );
  }
  const make = !user.is_admin;
  return (
    <ConfirmDialog
      title={make ? `Make ${user.name} an administrator?` : `Remove the admin rights of ${user.name}?`}
      confirmLabel={make ? "Make admin" : "Remove admin"}
      danger={!make}
      onCancel={onClose}
      onConfirm={() => onApply({ is_admin: make })}
    >
      <p>{make ? "Administrators manage users, teams and keys, and reach every project." : "They keep their own projects and teams."}</p>
    </ConfirmDialog>
  );
}

/** The users table and its actions; `onChange` receives a user as the server answered it. */
export function UsersSection({ viewer, users, onChange, onCreated }: {
  viewer: Viewer;
  users: readonly UserInfo[];
  onChange: (user: UserInfo) => void;
  onCreated: () => void;
}) {
  const [pending, setPending] = useState<Pending | null>(null);
  const [created, setCreated] = useState<CreatedUser | null>(null);
  const enabling = useAction();

  const apply = async (user: UserInfo, patch: UserPatch): Promise<void> => {
    const changed = await updateUser(user.name, patch);
    onChange({ ...user, ...changed });
  };
  const enable = (user: UserInfo): void => {
    void enabling.run(
      () => apply(user, { disabled: false }),
      (err) => `could not enable ${user.name}: ${errorMessage(err)}`,
    );
  };

  return (
    <section class="admin-section" aria-labelledby="users-title" data-testid="users-section">
      <h2 id="users-title" class="section-title">
        Users <span class="muted">{users.length}</span>
      </h2>
      <CreateUserForm
        onCreated={(c) => {
          setCreated(c);
          onCreated();
        }}
      />
      {created !== null && (
        <NewKey
          owner={created.name}
          apiKey={created.api_key}
          onDone={() => {
            setCreated(null);
          }}
        />
      )}
      <FieldError error={enabling.error} />
      {users.length === 0 ? (
        <Empty title="No users" />
      ) : (
        <CardTable columns={["Name", "Role", "Status", "Teams", "Password", "Created"]} actions testId="users-table" labelledBy="users-title">
          {users.map((u) => {
            const self = u.name === viewer.name;
            return (
              <tr key={u.name} data-testid="user-row" data-user={u.name} data-disabled={String(u.disabled)} data-admin={String(u.is_admin)}>
                <th scope="row">
                  {u.name}
                  {self && <span class="muted"> (you)</span>}
                </th>
                <td>{u.is_admin ? <span class="badge badge-admin">Admin</span> : "User"}</td>
                <td>
                  <span class={u.disabled ? "badge badge-disabled" : "badge badge-key-active"} data-testid="user-status">
                    {u.disabled ? "Disabled" : "Active"}
                  </span>
                </td>
                <td data-testid="user-teams">{u.teams.length === 0 ? <span class="muted">-</span> : u.teams.join(", ")}</td>
                <td>{u.has_password ? "set" : <span class="muted">none</span>}</td>
                <td class="nowrap">{formatDate(u.created_at)}</td>
                <ActionsCell>
                  {u.disabled ? (
                    <button
                      type="button"
                      class="btn btn-small"
                      aria-label={`Enable ${u.name}`}
                      onClick={() => {
                        enable(u);
                      }}
                      data-testid="user-enable"
                    >
                      Enable
                    </button>
                  ) : (
                    <button
                      type="button"
                      class="btn btn-small btn-danger-ghost"
                      aria-label={`Disable ${u.name}`}
                      disabled={self}
                      title={self ? "You cannot disable yourself" : undefined}
                      onClick={() => {
                        setPending({ kind: "disable", user: u });
                      }}
                      data-testid="user-disable"
                    >
                      Disable
                    </button>
                  )}
                  <button
                    type="button"
                    class="btn btn-small"
                    aria-label={u.is_admin ? `Remove admin rights of ${u.name}` : `Make ${u.name} an admin`}
                    disabled={self && u.is_admin}
                    title={self && u.is_admin ? "You cannot remove your own admin rights" : undefined}
                    onClick={() => {
                      setPending({ kind: "admin", user: u });
                    }}
                    data-testid="user-admin"
                  >
                    {u.is_admin ? "Remove admin" : "Make admin"}
                  </button>
                  <button
                    type="button"
                    class="btn btn-small"
                    aria-label={`Reset the password of ${u.name}`}
                    onClick={() => {
                      setPending({ kind: "password", user: u });
                    }}
                    data-testid="user-password"
                  >
                    Reset password
                  </button>
                  <a class="btn btn-small btn-ghost" href={href.admin(u.name)} aria-label={`API keys of ${u.name}`} data-testid="user-keys">
                    Keys
                  </a>
                </ActionsCell>
              </tr>
            );
          })}
        </CardTable>
      )}
      {pending !== null && (
        <ChangeDialog
          pending={pending}
          onClose={() => {
            setPending(null);
          }}
          onApply={async (patch) => {
            await apply(pending.user, patch);
            setPending(null);
          }}
        />
      )}
    </section>
  );
}
