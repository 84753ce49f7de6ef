// Alias names (docs/artifacts.md): what the server accepts, checked before asking it. Pure.

const ALIAS = /^[A-Za-z0-9_.-]{1,128}$/;

/** Why `alias` cannot be set by hand, or null when it can. */
export function aliasProblem(alias: string): string | null {
  if (alias === "latest") return "`latest` always names the newest version; it cannot be set by hand";
  if (/^v\d+$/.test(alias)) return `\`${alias}\` looks like a version number; pick another alias`;
  if (!ALIAS.test(alias)) return `\`${alias.slice(0, 40)}\` is not an alias: use 1 to 128 letters, digits, \`_\`, \`.\` or \`-\``;
  return null;
}

/** The aliases a user sets on a version (everything but `latest`), sorted, without repeats. */
export function editableAliases(aliases: readonly string[]): string[] {
  return [...new Set(aliases.filter((a) => a !== "latest"))].sort();
}
