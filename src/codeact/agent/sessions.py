"""`ConversationSessions`: the CodeAct session state of each conversation an `Agent` is having.

With ``Agent(session=True)`` every run gets a session, so the variables one program defines
are there for the next program of the run. A run that continues a conversation (its
``history=`` is an earlier run's messages) starts from the state that conversation ended
with: the conversation is recognised by a digest of its messages, so a history that was
saved as JSON and loaded again is recognised too.

Every continuation gets its own copy of that state (a new `Session` made from the kept
`Session.state` bytes), so N runs from one prefix (rollouts, a retried follow-up turn) each
start from the prefix's variables, and what one of them does is not seen by the others. The
states of the last `KEPT_CONVERSATIONS` conversations are kept, least recently used first
to go: each is at most `Limits.state_bytes`, so that many states bound the memory held.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Sequence

from ..chat.messages import Message
from ..runtime import CodeAct, Session

__all__ = ["KEPT_CONVERSATIONS", "ConversationSessions"]

#: Conversations whose session state an agent keeps for runs that continue them.
KEPT_CONVERSATIONS = 64


class ConversationSessions:
    """The session states of the last `kept` conversations used, by their messages."""

    def __init__(self, codeact: CodeAct, *, kept: int = KEPT_CONVERSATIONS) -> None:
        self.codeact = codeact
        self.kept = kept
        # The sealed `Session.state` (bytes: immutable, a copy for every continuation).
        self._states: OrderedDict[str, bytes] = OrderedDict()

    def for_run(self, history: Sequence[Message]) -> Session:
        """A new session for a run after `history`: with the state of the conversation
        `history` is (kept for the next continuation too), or empty."""
        if history:
            key = digest(history)
            state = self._states.get(key)
            if state is not None:
                self._states.move_to_end(key)  # used: the last to be forgotten
                return self.codeact.session(state=state)
        return self.codeact.session()

    def remember(self, messages: Sequence[Message], session: Session) -> None:
        """Keep the state of `session` for the runs that continue after `messages`."""
        key = digest(messages)
        self._states[key] = session.state
        self._states.move_to_end(key)
        while len(self._states) > self.kept:
            self._states.popitem(last=False)

    def knows(self, messages: Sequence[Message]) -> bool:
        """Whether a run after `messages` would start from a kept state."""
        return digest(messages) in self._states

    def __len__(self) -> int:
        return len(self._states)


def digest(messages: Sequence[Message]) -> str:
    """A digest of a conversation: the same for the same messages, however they were kept."""
    h = hashlib.sha256()
    for message in messages:
        h.update(json.dumps(message.to_openai(), sort_keys=True, default=str).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()
