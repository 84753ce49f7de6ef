// The signed-in user's mentions. (Filled in by the comments work.)

import type { Viewer } from "../../api/types";
import type { Params } from "../../lib/route";

export function InboxPage(props: { viewer: Viewer | null; params: Params }) {
  return <div data-testid="inbox-page">{props.viewer?.name}</div>;
}
