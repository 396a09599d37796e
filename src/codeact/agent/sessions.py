"""`ConversationSessions`: the CodeAct session of each conversation an `Agent` is having.

With ``Agent(session=True)`` every run gets a session, so the variables one program defines
are there for the next program of the run. A run that continues a conversation (its
``history=`` is an earlier run's messages) gets that run's session back: the conversation is
recognised by a digest of its messages, so a history that was saved as JSON and loaded again
is recognised too. Only the most recent conversations are remembered.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Sequence

from ..chat.messages import Message
from ..runtime import CodeAct, Session

__all__ = ["ConversationSessions"]

#: Conversations whose sessions an agent keeps for runs that continue them.
KEPT_CONVERSATIONS = 64


class ConversationSessions:
    """The sessions of the last `KEPT_CONVERSATIONS` conversations, by their messages."""

    def __init__(self, codeact: CodeAct, *, kept: int = KEPT_CONVERSATIONS) -> None:
        self.codeact = codeact
        self.kept = kept
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def for_run(self, history: Sequence[Message]) -> Session:
        """The session of the conversation `history` continues, or a new one."""
        if history:
            session = self._sessions.pop(digest(history), None)
            if session is not None:
                return session
        return self.codeact.session()

    def remember(self, messages: Sequence[Message], session: Session) -> None:
        """Keep `session` for a run that continues after `messages`."""
        self._sessions[digest(messages)] = session
        self._sessions.move_to_end(digest(messages))
        while len(self._sessions) > self.kept:
            self._sessions.popitem(last=False)

    def __len__(self) -> int:
        return len(self._sessions)


def digest(messages: Sequence[Message]) -> str:
    """A digest of a conversation: the same for the same messages, however they were kept."""
    h = hashlib.sha256()
    for message in messages:
        h.update(json.dumps(message.to_openai(), sort_keys=True, default=str).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()
