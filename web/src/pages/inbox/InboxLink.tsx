// The top bar's "Inbox" link with the number of unread mentions (polled; asked again at once
// when the inbox marks mentions read).

import { useEffect, useState } from "preact/hooks";
import { isAbort } from "../../api/client";
import { listMentions } from "../../api/comments";
import { poll } from "../../lib/poll";
import { href } from "../../lib/route";
import { onMentionsChanged } from "./unread";

const POLL_MS = 15_000;

export function InboxLink({ current }: { current: boolean }) {
  const [unread, setUnread] = useState(0);
  const [nonce, setNonce] = useState(0);

  useEffect(() => onMentionsChanged(() => { setNonce((n) => n + 1); }), []);
  useEffect(
    () =>
      poll(async (signal) => {
        try {
          setUnread((await listMentions({ limit: 0, signal })).unread);
        } catch (err) {
          if (!isAbort(err)) throw err;
        }
      }, POLL_MS),
    [nonce],
  );

  const label = unread === 0 ? "Inbox" : `Inbox, ${unread} unread ${unread === 1 ? "mention" : "mentions"}`;
  return (
    <a class="topbar-link" href={href.inbox()} aria-current={current ? "page" : undefined} aria-label={label} data-testid="nav-inbox" data-unread={unread}>
      Inbox
      {unread > 0 && (
        <span class="inbox-count" data-testid="inbox-unread" aria-hidden="true">
          {unread > 99 ? "99+" : unread}
        </span>
      )}
    </a>
  );
}
