// The 404 route.

import { Empty } from "../components/states";
import { href } from "../lib/route";

/** An unknown route. */
export function NotFoundPage({ path }: { path: string }) {
  return (
    <div class="page page-narrow" data-testid="not-found">
      <Empty title="Page not found">
        <p>
          Nothing lives at <code>{path}</code>. <a href={href.projects()}>Go to the projects</a>.
        </p>
      </Empty>
    </div>
  );
}
