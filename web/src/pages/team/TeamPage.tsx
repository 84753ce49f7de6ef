// A team: members and roles, invitations, audit. (Filled in by the team work.)

import type { Viewer } from "../../api/types";
import type { Params } from "../../lib/route";

export function TeamPage(props: { team: string; viewer: Viewer | null; params: Params }) {
  return <div data-testid="team-page">{props.team}{props.viewer?.name}</div>;
}
