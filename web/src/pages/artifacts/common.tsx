// Pieces every artifact view shares: links to versions and runs, alias badges, short digests.

import type { ArtifactRunRef } from "../../api/types";
import { href } from "../../lib/route";

/** `blake3:0123456789ab…`: enough of a digest to tell versions apart; the whole one in `title`. */
export function shortDigest(digest: string, hex = 12): string {
  const i = digest.indexOf(":");
  const body = i < 0 ? digest : digest.slice(i + 1);
  return body.length <= hex ? digest : `${digest.slice(0, i + 1)}${body.slice(0, hex)}…`;
}

/** A digest in monospace, shortened, the whole of it on hover. */
export function Digest({ digest, full = false }: { digest: string; full?: boolean }) {
  return (
    <code class={full ? "digest wrap" : "digest"} title={digest} data-testid="digest">
      {full ? digest : shortDigest(digest)}
    </code>
  );
}

/** The aliases of a version as badges (`latest` marked). */
export function AliasBadges({ aliases }: { aliases: readonly string[] }) {
  if (aliases.length === 0) return null;
  return (
    <span class="alias-list" data-testid="aliases">
      {aliases.map((a) => (
        <span key={a} class={a === "latest" ? "badge alias alias-latest" : "badge alias"} data-testid="alias" data-alias={a}>
          {a}
        </span>
      ))}
    </span>
  );
}

/** A link to a version's page (`name:v3`). */
export function VersionLink({ entity, project, name, version, tab }: { entity: string; project: string; name: string; version: string; tab?: string }) {
  return (
    <a class="mono version-link" href={href.version(entity, project, name, version, tab === undefined ? {} : { tab })} data-testid="version-link" data-version={`${name}:${version}`}>
      {name}:{version}
    </a>
  );
}

/** A link to a run (in the page's entity when the reference names none). */
export function RunLink({ entity, run, label }: { entity: string; run: ArtifactRunRef; label?: string }) {
  return (
    <a class="run-link" href={href.run(run.entity ?? entity, run.project, run.id)} data-testid="artifact-run-link" data-run-id={run.id}>
      {label ?? run.id}
    </a>
  );
}
