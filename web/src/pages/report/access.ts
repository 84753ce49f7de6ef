// Who may edit a project's reports (the server's rule for writes): a server admin, the entity's
// own user, or a member of the entity's team who is not a `viewer` there (`read_only`; a viewer
// JSON without that field counts as writable).

import type { Viewer } from "../../api/types";

export function canEditReports(viewer: (Viewer & { read_only?: string[] }) | null, entity: string): boolean {
  if (viewer === null) return false;
  if (viewer.is_admin || viewer.name === entity) return true;
  return viewer.teams.includes(entity) && !(viewer.read_only ?? []).includes(entity);
}
