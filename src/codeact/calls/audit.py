"""The audit of tool calls: argument redaction, JSON lines, and a live JSON-lines sink.

Every call (nested or direct) ends as a `ToolCallRecord`: tool, arguments, decision, who
decided, duration, outcome. Before anything is recorded or logged, the arguments pass the
redaction, so a secret a program passes to a tool never lands in a log file, an
`ExecutionResult`, or the JSON output of the CLI. (The tool and the approval handler still
get the real values.)
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any, TypeAlias

from .._display import utf8_safe
from ..bridge.protocol import ToolCallRecord
from ..errors import ConfigurationError

__all__ = [
    "AuditSink",
    "JsonlAudit",
    "Redact",
    "Redactor",
    "as_redactor",
    "check_audit_path",
    "hidden_values",
    "records_to_jsonl",
    "scrub",
]


def check_audit_path(path: str | Path, *, name: str = "audit") -> Path:
    """An audit file that can be appended to, checked when it is configured: an audit log
    that turns out to be unwritable only after the calls it should record were made is lost."""
    target = Path(path)
    if target.is_dir():
        raise ConfigurationError(f"{name} {target}: is a directory; name a file in it")
    parent = target.parent
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise ConfigurationError(
            f"{name} {target}: its directory {parent} {what}; create it or choose another file"
        )
    try:
        with target.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise ConfigurationError(
            f"{name} {target}: cannot append to it ({exc.strerror or exc}); choose a file you "
            "can write"
        ) from None
    return target


#: Receives each finished record (from the sandbox's thread or the event loop): keep it quick.
AuditSink: TypeAlias = Callable[[ToolCallRecord], None]
#: ``(tool_name, arguments) -> arguments as recorded``.
Redactor: TypeAlias = Callable[[str, Any], Any]

_log = logging.getLogger("codeact.audit")


class Redact:
    """Hide the values of arguments by key, at any depth, before they are recorded or logged.

    >>> redact = Redact(["password", "api_key"])
    >>> redact("login", {"user": "ann", "password": "hunter2", "opts": {"API_KEY": "k"}})
    {'user': 'ann', 'password': '[redacted]', 'opts': {'API_KEY': '[redacted]'}}

    Keys match case-insensitively. `tools` limits the keys to some tools:
    ``Redact(tools={"send_email": ["body"]})``.
    """

    def __init__(
        self,
        keys: Iterable[str] = (),
        *,
        tools: Mapping[str, Iterable[str]] | None = None,
        replacement: str = "[redacted]",
    ) -> None:
        if isinstance(keys, str):
            keys = [keys]
        self.keys = frozenset(k.lower() for k in keys)
        self.tools = {name: frozenset(k.lower() for k in ks) for name, ks in (tools or {}).items()}
        self.replacement = replacement

    def __call__(self, tool_name: str, arguments: Any) -> Any:
        keys = self.keys | self.tools.get(tool_name, frozenset())
        return self._hide(arguments, keys) if keys else arguments

    def _hide(self, value: Any, keys: frozenset[str]) -> Any:
        if isinstance(value, dict):
            return {
                k: self.replacement
                if isinstance(k, str) and k.lower() in keys
                else self._hide(v, keys)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._hide(v, keys) for v in value]
        return value

    def __repr__(self) -> str:
        return f"Redact({sorted(self.keys)!r}, tools={self.tools!r})"


def as_redactor(redact: Redactor | Iterable[str] | None) -> Redactor | None:
    """`CodeAct(redact=...)`: a list of key names, a `Redact`, or any ``(tool, args) -> args``."""
    if redact is None:
        return None
    if callable(redact):
        return redact
    keys = [redact] if isinstance(redact, str) else redact
    try:
        names: list[object] = list(keys)
    except TypeError:
        names = [keys]
    if not all(isinstance(k, str) for k in names):
        raise ConfigurationError(
            "redact must be a list of argument names or a function (tool, arguments) -> "
            f"arguments, got {redact!r}"
        )
    return Redact([str(k) for k in names])


#: How many hidden values, and how deep, `hidden_values` collects for one call.
_MAX_HIDDEN = 64
_MAX_HIDDEN_DEPTH = 32
#: Shorter texts are not hidden in messages: "1" or "no" would blot out the rest of them.
_MIN_HIDDEN_CHARS = 4


def hidden_values(original: Any, shown: Any) -> tuple[str, ...]:
    """The texts of the values of `original` that the redaction replaced in `shown`, so that
    the messages recorded with a call (an invalid argument echoed back, a tool's exception
    that quotes it) can hide them too (`scrub`)."""
    found: list[str] = []
    stack: list[tuple[Any, Any, int]] = [(original, shown, 0)]
    while stack and len(found) < _MAX_HIDDEN:
        value, seen, depth = stack.pop()
        if value is seen or depth > _MAX_HIDDEN_DEPTH:
            continue
        if isinstance(value, dict) and isinstance(seen, dict):
            stack.extend((v, seen.get(k), depth + 1) for k, v in value.items())
        elif isinstance(value, list) and isinstance(seen, list) and len(value) == len(seen):
            stack.extend((v, w, depth + 1) for v, w in zip(value, seen, strict=True))
        elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
            if value != seen:
                found.append(str(value))
        elif value != seen:  # a container the redaction replaced whole: every text in it
            stack.extend(_leaves(value, depth))
    texts = {t for t in found if len(t) >= _MIN_HIDDEN_CHARS}
    texts |= {repr(t)[1:-1] for t in texts}  # as an error's repr() of the value shows it
    return tuple(sorted(texts, key=len, reverse=True))


def _leaves(value: Any, depth: int) -> list[tuple[Any, Any, int]]:
    if isinstance(value, dict):
        return [(v, None, depth + 1) for v in value.values()]
    if isinstance(value, list):
        return [(v, None, depth + 1) for v in value]
    return []


#: How much of a hidden value's start marks what is left of it in a message cut short (an
#: invalid argument's echo shows its first 57 characters, a long error its first 4,000).
_HIDDEN_PREFIX = 12


def scrub(text: str | None, hidden: tuple[str, ...], replacement: str = "[redacted]") -> str | None:
    """`text` with every value of `hidden` replaced, and what is left of one cut short: a run
    of the text that repeats a hidden value's first characters (at least 12, or the whole of
    a shorter one) for as long as it goes on matching."""
    if not text or not hidden:
        return text
    for value in hidden:
        if value in text:
            text = text.replace(value, replacement)
        head = value[:_HIDDEN_PREFIX]
        if len(value) <= len(head) or head not in text:
            continue
        parts: list[str] = []
        start = 0
        found = text.find(head)
        while found >= 0:
            end = found + len(head)
            while end < len(text) and end - found < len(value) and text[end] == value[end - found]:
                end += 1
            parts += [text[start:found], replacement]
            start = end
            found = text.find(head, start)
        text = "".join(parts) + text[start:]
    return text


def records_to_jsonl(records: Iterable[ToolCallRecord]) -> str:
    """Records as JSON lines (one object per call, ending with a newline)."""
    return "".join(_line(r) for r in records)


def _line(record: ToolCallRecord, *, ascii_only: bool = False) -> str:
    """One record as a JSON line; with lone surrogates in it (a program's strings), or for a
    stream that cannot take more than ASCII, with JSON's escapes instead of those characters,
    so that no record is ever left out of the file."""
    data = record.to_dict()
    line = json.dumps(data, ensure_ascii=ascii_only, default=repr, allow_nan=False) + "\n"
    if not ascii_only and utf8_safe(line) is not line:
        line = json.dumps(data, default=repr, allow_nan=False) + "\n"
    return line


class JsonlAudit:
    """An audit sink that appends each finished call to a JSON-lines file as it happens.

    >>> audit = JsonlAudit("tool-calls.jsonl")       # doctest: +SKIP
    >>> codeact = CodeAct(tools=[...], audit=audit)  # doctest: +SKIP

    Safe to share between executions and threads. Writing failures are logged, never raised
    into a program.
    """

    def __init__(self, path: str | Path | IO[str]) -> None:
        self._lock = threading.Lock()
        if isinstance(path, (str, Path)):
            self.path: Path | None = check_audit_path(path, name="JsonlAudit")
            self._file: IO[str] | None = None
            self._owned = True
        else:
            self.path = None
            self._file = path
            self._owned = False

    def __call__(self, record: ToolCallRecord) -> None:
        line = _line(record)
        with self._lock:
            try:
                if self._file is None and self.path is not None:
                    self._file = self.path.open("a", encoding="utf-8")
                if self._file is not None:
                    try:
                        self._file.write(line)
                    except UnicodeEncodeError:  # a stream in a narrower encoding than UTF-8
                        self._file.write(_line(record, ascii_only=True))
                    self._file.flush()
            except OSError as exc:
                _log.warning("codeact: cannot write the audit to %s: %s", self.path, exc)

    def close(self) -> None:
        with self._lock:
            if self._owned and self._file is not None:
                self._file.close()
            self._file = None

    def __repr__(self) -> str:
        return f"JsonlAudit({str(self.path) if self.path else self._file!r})"
