// Accepting a team invitation (`#/invite/<token>`): what the link offers (team, role, who
// invited), then "Join" for a signed-in user, or a form creating an account through the link
// (the new user is signed in); either way the team's page next.

import { useState } from "preact/hooks";
import { getViewer, signInWithKey } from "../../api/auth";
import { ApiError } from "../../api/client";
import { acceptInvitation, describeInvitation, signUpWithInvitation } from "../../api/teams";
import type { Viewer } from "../../api/types";
import { MIN_PASSWORD } from "../../api/users";
import { FieldError, TextField } from "../../components/fields";
import { Empty, errorMessage, Loading } from "../../components/states";
import { useAction } from "../../components/useAction";
import { formatDateTime } from "../../lib/format";
import { useAsync } from "../../lib/hooks";
import { currentHash, href, navigate } from "../../lib/route";
import "./team.css";

const ROLE_WORDS: Record<string, string> = {
  admin: "an admin (manages members, roles and invitations)",
  member: "a member (reads and writes)",
  viewer: "a viewer (reads and comments, changes nothing)",
};

function SignUpForm({ token, onSignedIn }: { token: string; onSignedIn: (v: Viewer) => void }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [again, setAgain] = useState("");
  const action = useAction();
  const submit = (e: Event): void => {
    e.preventDefault();
    if (name.trim() === "") {
      action.setError("choose a user name (letters, digits, '_', '.', '-'; at most 64)");
      return;
    }
    if (password.length < MIN_PASSWORD) {
      action.setError(`the password needs at least ${MIN_PASSWORD} characters`);
      return;
    }
    if (password !== again) {
      action.setError("the two passwords differ; type the same one twice");
      return;
    }
    void action.run(
      async () => {
        const made = await signUpWithInvitation(token, name, password);
        const viewer = await signInWithKey(made.api_key);
        onSignedIn(viewer);
        navigate(href.team(made.team), false);
      },
      (err) => `could not create the account: ${errorMessage(err)}`,
    );
  };
  return (
    <form class="form" onSubmit={submit} aria-label="Create an account" data-testid="invite-signup-form">
      <h2 class="section-title">Create your account</h2>
      <TextField label="User name" value={name} autocomplete="username" spellcheck={false} onValue={setName} testId="invite-signup-name" />
      <TextField label="Password" type="password" autocomplete="new-password" value={password} onValue={setPassword} testId="invite-signup-password" />
      <TextField label="Password again" type="password" autocomplete="new-password" value={again} onValue={setAgain} testId="invite-signup-again" />
      <p class="hint">At least {MIN_PASSWORD} characters. You are signed in right after.</p>
      <FieldError error={action.error} testId="invite-signup-error" />
      <button type="submit" class="btn btn-primary" disabled={action.busy} data-testid="invite-signup-submit">
        {action.busy ? "Creating…" : "Create account and join"}
      </button>
      <p class="hint">
        Have an account already? <a href={href.signin(currentHash())}>Sign in</a>, then open this link again.
      </p>
    </form>
  );
}

/** `#/invite/<token>`. */
export function InvitePage(props: { token: string; viewer: Viewer | null; onSignedIn: (v: Viewer) => void }) {
  const info = useAsync((signal) => describeInvitation(props.token, signal), [props.token]);
  const join = useAction();
  if (info.data === undefined) {
    if (info.error === null) return <Loading label="Reading the invitation…" />;
    const gone = info.error instanceof ApiError && (info.error.status === 410 || info.error.status === 404);
    return (
      <div class="page invite-page" data-testid="invite-page" data-state="unusable">
        <Empty title={gone ? "This invitation cannot be used" : "Could not read the invitation"}>
          <p data-testid="invite-problem">{errorMessage(info.error)}</p>
          <a href={href.projects()}>Go to the projects</a>
        </Empty>
      </div>
    );
  }
  const inv = info.data;
  const viewer = props.viewer;
  const member = viewer !== null && viewer.teams.includes(inv.team);
  return (
    <div class="page invite-page" data-testid="invite-page" data-state="open" data-team={inv.team} data-role={inv.role}>
      <div class="card">
        <h1 class="page-title">Join team {inv.team}</h1>
        <p data-testid="invite-offer">
          <strong>{inv.inviter}</strong> invites you into team <strong>{inv.team}</strong> as {ROLE_WORDS[inv.role] ?? inv.role}.
        </p>
        {inv.note !== "" && <p class="muted" data-testid="invite-note-shown">“{inv.note}”</p>}
        <p class="hint">The link works once, until {formatDateTime(inv.expires_at)}.</p>
        {viewer === null ? (
          <SignUpForm token={props.token} onSignedIn={props.onSignedIn} />
        ) : member ? (
          <p class="notice" data-testid="invite-already">
            You are in team {inv.team} already. <a href={href.team(inv.team)}>Open the team</a>
          </p>
        ) : (
          <>
            <p>
              Signed in as <strong>{viewer.name}</strong>.
            </p>
            <FieldError error={join.error} testId="invite-join-error" />
            <button
              type="button"
              class="btn btn-primary"
              disabled={join.busy}
              onClick={() => {
                void join.run(
                  async () => {
                    const done = await acceptInvitation(props.token);
                    // the viewer again: their teams and roles changed
                    props.onSignedIn(await getViewer());
                    navigate(href.team(done.team), false);
                  },
                  (err) => `could not join: ${errorMessage(err)}`,
                );
              }}
              data-testid="invite-join"
            >
              {join.busy ? "Joining…" : `Join ${inv.team}`}
            </button>
          </>
        )}
      </div>
    </div>
  );
}
