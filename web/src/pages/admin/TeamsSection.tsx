// Teams and their members: create a team, add and remove members.

import { useState } from "preact/hooks";
import { addMember, createTeam, removeMember, type TeamInfo } from "../../api/teams";
import { FieldError, TextField } from "../../components/fields";
import { Empty, errorMessage } from "../../components/states";
import { useAction } from "../../components/useAction";
import { href } from "../../lib/route";

/** One team: its members, each removable, and a picker of the users to add. */
function TeamCard({ team, userNames, onTeam, onError }: {
  team: TeamInfo;
  userNames: readonly string[];
  onTeam: (team: TeamInfo) => void;
  onError: (message: string | null) => void;
}) {
  const candidates = userNames.filter((n) => !team.members.includes(n));
  const [pick, setPick] = useState("");
  const action = useAction(onError);
  const chosen = candidates.includes(pick) ? pick : (candidates[0] ?? "");

  const run = (what: string, change: () => Promise<TeamInfo>): void => {
    void action.run(
      async () => {
        onTeam(await change());
      },
      (err) => `could not ${what}: ${errorMessage(err)}`,
    );
  };

  return (
    <li class="team card" data-testid="team-card" data-team={team.name}>
      <h3 class="team-name">
        <a href={href.team(team.name)} data-testid="team-page-link">
          {team.name}
        </a>
      </h3>
      {team.members.length === 0 ? (
        <p class="muted">No members</p>
      ) : (
        <ul class="member-list" aria-label={`Members of ${team.name}`}>
          {team.members.map((m) => (
            <li key={m} class="member" data-testid="team-member" data-member={m}>
              <span data-testid="team-member-name">{m}</span>
              <button
                type="button"
                class="btn btn-small btn-danger-ghost"
                aria-label={`Remove ${m} from ${team.name}`}
                disabled={action.busy}
                onClick={() => {
                  run(`remove ${m} from ${team.name}`, () => removeMember(team.name, m));
                }}
                data-testid="member-remove"
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <form
        class="member-add"
        onSubmit={(e) => {
          e.preventDefault();
          if (chosen !== "") run(`add ${chosen} to ${team.name}`, () => addMember(team.name, chosen));
        }}
      >
        <select
          class="input input-small"
          aria-label={`User to add to ${team.name}`}
          value={chosen}
          disabled={candidates.length === 0}
          onChange={(e) => {
            setPick(e.currentTarget.value);
          }}
          data-testid="member-add-select"
        >
          {candidates.length === 0 && <option value="">Everyone is a member</option>}
          {candidates.map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
        <button type="submit" class="btn btn-small" aria-label={`Add to ${team.name}`} disabled={action.busy || chosen === ""} data-testid="member-add">
          Add
        </button>
      </form>
    </li>
  );
}

/** Every team; `onTeam` receives a team as the server answered it (created or changed). */
export function TeamsSection({ teams, userNames, onTeam }: {
  teams: readonly TeamInfo[];
  userNames: readonly string[];
  onTeam: (team: TeamInfo) => void;
}) {
  const [name, setName] = useState("");
  const action = useAction();

  const create = (e: Event): void => {
    e.preventDefault();
    if (name.trim() === "") {
      action.setError("enter a team name (letters, digits, '_', '.', '-'; at most 64)");
      return;
    }
    void action.run(
      async () => {
        onTeam(await createTeam(name));
        setName("");
      },
      (err) => `could not create the team: ${errorMessage(err)}`,
    );
  };

  return (
    <section class="admin-section" aria-labelledby="teams-title" data-testid="teams-section">
      <h2 id="teams-title" class="section-title">
        Teams <span class="muted">{teams.length}</span>
      </h2>
      <form class="inline-form card" onSubmit={create} aria-label="Create a team" data-testid="create-team-form">
        <TextField label="Team name" value={name} autocomplete="off" spellcheck={false} onValue={setName} testId="create-team-name" />
        <button type="submit" class="btn btn-primary" disabled={action.busy} data-testid="create-team-submit">
          {action.busy ? "Creating…" : "Create team"}
        </button>
        <p class="hint">You become its first member.</p>
      </form>
      <FieldError error={action.error} />
      {teams.length === 0 ? (
        <Empty title="No teams yet" />
      ) : (
        <ul class="team-grid">
          {teams.map((t) => (
            <TeamCard key={t.name} team={t} userNames={userNames} onTeam={onTeam} onError={action.setError} />
          ))}
        </ul>
      )}
    </section>
  );
}
