// The admin page of a team server: users, a user's API keys, teams. Admins only; others, and
// the local dashboard (`fwtrack ui`), get a message saying why there is nothing here.

import { useEffect, useRef } from "preact/hooks";
import { ApiError } from "../api/client";
import { listKeys } from "../api/keys";
import { listTeams, type TeamInfo } from "../api/teams";
import type { Viewer } from "../api/types";
import { listUsers, type UserInfo } from "../api/users";
import { Empty, whenLoaded } from "../components/states";
import { useAsync } from "../lib/hooks";
import { currentHash, href, type Params } from "../lib/route";
import { KeysTable } from "./admin/KeysTable";
import { TeamsSection } from "./admin/TeamsSection";
import { UsersSection } from "./admin/UsersSection";
import "./admin/admin.css";

function AdminsOnly() {
  return (
    <Empty title="Only administrators manage users, teams and keys">
      <p>
        Ask an administrator of this server for changes. Your own API keys are on <a href={href.keys()}>API keys</a>.
      </p>
    </Empty>
  );
}

/** The API keys of `user`, each revocable. */
function UserKeys({ user }: { user: string }) {
  const keys = useAsync((signal) => listKeys(user, signal), [user]);
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    ref.current?.scrollIntoView({ block: "nearest" });
  }, [user]);
  return (
    <section class="admin-section" aria-labelledby="user-keys-title" ref={ref} data-testid="user-keys-section" data-user={user}>
      <div class="section-head">
        <h2 id="user-keys-title" class="section-title">
          API keys of {user}
        </h2>
        <a class="btn btn-small btn-ghost" href={href.admin()} data-testid="user-keys-close">
          Close
        </a>
      </div>
      {whenLoaded(keys, { loading: "Loading keys…" }, (data) => (
        <KeysTable owner={user} keys={data} onRevoked={keys.reload} />
      ))}
    </section>
  );
}

function replaceBy<T extends { name: string }>(list: readonly T[], item: T): T[] {
  return list.some((x) => x.name === item.name) ? list.map((x) => (x.name === item.name ? item : x)) : [...list, item];
}

function AdminConsole({ viewer, params }: { viewer: Viewer; params: Params }) {
  const users = useAsync((signal) => listUsers(signal), []);
  const teams = useAsync((signal) => listTeams(signal), []);
  const selected = params.user;

  if (users.error instanceof ApiError && users.error.status === 403) return <AdminsOnly />;

  const usersBody = whenLoaded(users, { loading: "Loading users…", failed: "Could not load the users" }, (data) => (
    <UsersSection
      viewer={viewer}
      users={data}
      onChange={(u: UserInfo) => {
        users.setData(replaceBy(data, u));
      }}
      onCreated={users.reload}
    />
  ));
  const teamsBody = whenLoaded(teams, { loading: "Loading teams…", failed: "Could not load the teams" }, (data) => (
    <TeamsSection
      teams={data}
      userNames={(users.data ?? []).map((u) => u.name)}
      onTeam={(t: TeamInfo) => {
        teams.setData(replaceBy(data, t));
        users.reload(); // the users table shows each user's teams
      }}
    />
  ));
  return (
    <>
      {usersBody}
      {selected !== undefined && <UserKeys key={selected} user={selected} />}
      {teamsBody}
    </>
  );
}

/** `#/admin` (`?user=NAME` also shows that user's keys). */
export function AdminPage({ viewer, local, params }: { viewer: Viewer | null | undefined; local: boolean; params: Params }) {
  let body;
  if (viewer === undefined || viewer === null) {
    body = (
      <Empty title="Sign in as an administrator">
        <p>
          <a href={href.signin(currentHash())}>Sign in</a> to manage users, teams and keys.
        </p>
      </Empty>
    );
  } else if (local) {
    body = (
      <Empty title="Nothing to manage on the local dashboard">
        <p>
          <code>fwtrack ui</code> has one user and needs no keys. Users, teams and keys live on a team server (<code>fwtrack server</code>).
        </p>
      </Empty>
    );
  } else if (!viewer.is_admin) {
    body = <AdminsOnly />;
  } else {
    body = <AdminConsole viewer={viewer} params={params} />;
  }
  return (
    <div class="page page-narrow admin-page" data-testid="admin-page">
      <h1 class="page-title">Admin</h1>
      {body}
    </div>
  );
}
