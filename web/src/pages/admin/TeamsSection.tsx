// Teams and their members: create a team, add and remove members.

import { useState } from "preact/hooks";
import { addMember, createTeam, removeMember, type TeamInfo } from "../../api/teams";
import { Empty, errorMessage } from "../../components/states";

/** One team: its members, each removable, and a picker of the users to add. */
function TeamCard({ team, userNames, onTeam, onError }: {
  team: TeamInfo;
  userNames: readonly string[];
  onTeam: (team: TeamInfo) => void;
  onError: (message: string | null) => void;
}) {
  const candidates = userNames.filter((n) => !team.members.includes(n));
  const [pick, setPick] = useState("");
  const [busy, setBusy] = useState(false);
  const chosen = candidates.includes(pick) ? pick : (candidates[0] ?? "");

  const run = async (what: string, change: () => Promise<TeamInfo>): Promise<void> => {
    setBusy(true);
    onError(null);
    try {
      onTeam(await change());
    } catch (err) {
      onError(`could not ${what}: ${errorMessage(err)}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <li class="team card" data-testid="team-card" data-team={team.name}>
      <h3 class="team-name">{team.name}</h3>
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
                disabled={busy}
                onClick={() => void run(`remove ${m} from ${team.name}`, () => removeMember(team.name, m))}
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
          if (chosen !== "") void run(`add ${chosen} to ${team.name}`, () => addMember(team.name, chosen));
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
        <button type="submit" class="btn btn-small" aria-label={`Add to ${team.name}`} disabled={busy || chosen === ""} data-testid="member-add">
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
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const create = async (e: Event): Promise<void> => {
    e.preventDefault();
    setError(null);
    if (name.trim() === "") {
      setError("enter a team name (letters, digits, '_', '.', '-'; at most 64)");
      return;
    }
    setBusy(true);
    try {
      onTeam(await createTeam(name));
      setName("");
    } catch (err) {
      setError(`could not create the team: ${errorMessage(err)}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="admin-section" aria-labelledby="teams-title" data-testid="teams-section">
      <h2 id="teams-title" class="section-title">
        Teams <span class="muted">{teams.length}</span>
      </h2>
      <form class="inline-form card" onSubmit={(e) => void create(e)} aria-label="Create a team" data-testid="create-team-form">
        <label class="field">
          <span class="field-label">Team name</span>
          <input
            class="input"
            value={name}
            autocomplete="off"
            spellcheck={false}
            onInput={(e) => {
              setName(e.currentTarget.value);
            }}
            data-testid="create-team-name"
          />
        </label>
        <button type="submit" class="btn btn-primary" disabled={busy} data-testid="create-team-submit">
          {busy ? "Creating…" : "Create team"}
        </button>
        <p class="hint">You become its first member.</p>
      </form>
      {error !== null && (
        <div class="field-error" role="alert">
          {error}
        </div>
      )}
      {teams.length === 0 ? (
        <Empty title="No teams yet" />
      ) : (
        <ul class="team-grid">
          {teams.map((t) => (
            <TeamCard key={t.name} team={t} userNames={userNames} onTeam={onTeam} onError={setError} />
          ))}
        </ul>
      )}
    </section>
  );
}
