// One report: its blocks, read or edited. (Filled in by the reports work.)

import type { Viewer } from "../../api/types";
import type { Params } from "../../lib/route";

export function ReportPage(props: { entity: string; project: string; reportId: string; params: Params; viewer: Viewer | null }) {
  return <div data-testid="report-page">{props.reportId}</div>;
}
