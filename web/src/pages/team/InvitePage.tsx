// Accepting a team invitation. (Filled in by the team work.)

import type { Viewer } from "../../api/types";

export function InvitePage(props: { token: string; viewer: Viewer | null; onSignedIn: (v: Viewer) => void }) {
  return <div data-testid="invite-page" data-token={props.token}>{props.viewer?.name}{typeof props.onSignedIn}</div>;
}
