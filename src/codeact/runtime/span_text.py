"""What text a span records: content cut to `CONTENT_LIMIT` (`clip`), a name, an id or a type
that a model, its server or a program chose bounded and escaped (`name_text`), and a failed
call's error type and message (`call_error_type`, `call_error_text`: a message is content,
recorded only with capture), and what the redaction hid in a program's calls, hidden in the
execution's text too (`redacted`). `codeact.runtime.tracing` and the agent's spans use these."""

from __future__ import annotations

from collections.abc import Iterable

from .._display import utf8_safe, visible_cut
from ..bridge.protocol import ToolCallRecord
from ..calls.audit import scrub

__all__ = [
    "CONTENT_LIMIT",
    "NAME_LIMIT",
    "NOT_CAPTURED",
    "call_error_text",
    "call_error_type",
    "clip",
    "hidden_in",
    "name_text",
    "redacted",
]

#: Characters of content (code, arguments, results, output) kept in an attribute.
CONTENT_LIMIT = 4096
#: Characters kept of a name, an id or a type in a span (`name_text`).
NAME_LIMIT = 256


def clip(text: str, limit: int = CONTENT_LIMIT) -> str:
    """`text` cut at `limit`, its lone surrogates escaped: an exporter drops an attribute
    that UTF-8 cannot hold (a program's code, output or arguments may have them)."""
    if len(text) > limit:
        text = text[:limit] + f"... [{len(text) - limit} more characters]"
    return utf8_safe(text)


def name_text(text: str) -> str:
    """A name, an id or a type as a span (its name, an attribute) records it: one line, at
    most `NAME_LIMIT` characters and how many more there were, control and invisible
    characters escaped. What a model, its server or a program sends may be megabytes long
    (each span would carry it to the collector) or hold an escape sequence for the terminal
    or the page of whoever reads the trace; every such text in a span goes through here."""
    return visible_cut(text if isinstance(text, str) else str(text), NAME_LIMIT)


def hidden_in(records: Iterable[ToolCallRecord]) -> tuple[str, ...]:
    """The texts the redaction (``redact=``) hid in the arguments of `records`, longest
    first: a program's exception, output or code may quote them as well."""
    return tuple(sorted({text for r in records for text in r._hidden}, key=len, reverse=True))


def redacted(text: str, hidden: tuple[str, ...], limit: int = CONTENT_LIMIT) -> str:
    """`text` as `clip` keeps it, with every text of `hidden` replaced as the audit's
    messages have it (``[redacted]``)."""
    return clip(scrub(text, hidden) or text, limit)


#: What an exception event says instead of a message that is content (capture is off).
NOT_CAPTURED = "(message not recorded: capture_content is off)"
#: Outcomes whose message is codeact's own, never the program's, a tool's or a handler's.
_OWN_MESSAGES = frozenset({"timeout", "refused", "cancelled"})


def call_error_text(record: ToolCallRecord, *, capture: bool) -> str:
    """A failed call's message for its span: a tool's exception, a denial's reason or an
    invalid argument's echo is content (it may quote the arguments, or what the tool read),
    recorded only with `capture`; codeact's own (a timeout, a limit) always."""
    if capture or record.outcome in _OWN_MESSAGES:
        return record.error or record.outcome
    return NOT_CAPTURED


def call_error_type(record: ToolCallRecord) -> str:
    """A failed call's `error.type` (and its exception event's type), from its outcome."""
    return {
        "denied": "ToolDenied",
        "timeout": "ToolTimeout",
        "unknown": "UnknownTool",
        "invalid": "InvalidArguments",
        "refused": "LimitExceeded",
        "cancelled": "Cancelled",
    }.get(record.outcome, "ToolError")
