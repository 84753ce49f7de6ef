// A version's aliases: `latest` shown as it is, the others removable with their ×, new ones
// added through the input (Enter). Each change saves the whole set (the server moves an alias
// here from the version that had it). Read-only servers get the badges alone.

import { useState } from "preact/hooks";
import { ApiError } from "../../api/client";
import { ChipEditor } from "../../components/ChipEditor";
import { errorMessage } from "../../components/states";
import { aliasProblem, editableAliases } from "./aliases";
import { AliasBadges } from "./common";

export function AliasEditor({ aliases, readOnly, onSave }: {
  aliases: readonly string[];
  readOnly: boolean;
  /** Saves the aliases set by hand (never `latest`); rejects with the server's error. */
  onSave: (next: string[]) => Promise<void>;
}) {
  const [refused, setRefused] = useState(false); // the server answered 405: read-only after all

  if (readOnly || refused) {
    return (
      <div class="alias-editor" data-testid="alias-editor" data-readonly="true">
        {aliases.length === 0 ? <span class="muted">none</span> : <AliasBadges aliases={aliases} />}
        {refused && <div class="hint">This server shows artifacts read-only: set aliases where the artifact was logged.</div>}
      </div>
    );
  }
  return (
    <div class="alias-editor" data-testid="alias-editor" data-readonly="false">
      <ChipEditor
        items={editableAliases(aliases)}
        noun="alias"
        listLabel="Aliases"
        addLabel="Add an alias"
        chipClass="badge alias"
        lead={
          aliases.includes("latest") && (
            <li class="badge alias alias-latest" data-testid="alias" data-alias="latest" title="latest always names the newest version">
              latest
            </li>
          )
        }
        check={aliasProblem}
        onSave={(next) => onSave(editableAliases(next))}
        failure={(err) => {
          if (!(err instanceof ApiError && err.status === 405)) return errorMessage(err);
          setRefused(true);
          return null;
        }}
      />
    </div>
  );
}
