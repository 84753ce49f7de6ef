// A project's reports: the list, and "new report". (Filled in by the reports work.)

import type { Viewer } from "../../api/types";
import type { Params } from "../../lib/route";

export function ReportsPage(props: { entity: string; project: string; params: Params; viewer: Viewer | null }) {
  return <div data-testid="reports-page">{props.entity}/{props.project}</div>;
}
