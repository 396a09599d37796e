"""What crosses the sandbox boundary: run requests, guest reports, tool-call frames.

Everything here is a plain value. A backend moves these frames over a `ToolChannel`
(implemented by the host bridge); it never sees a tool object, only names and JSON text.
Everything that comes back from a guest is untrusted: `RunOutcome.from_guest_json` checks
every field's type and size and never evaluates anything.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

from .._display import shown_name
from ..policy.limits import LimitName, Limits
from ..policy.mounts import Mount
from ..policy.outputs import OutputLimits
from ..policy.packages import PackageGrant
from .call_record import CallDecision, CallOrigin, CallOutcome, ToolCallRecord
from .report_json import loads, report_too_large, value_problem
from .state import GuestState, StateCarry, report_allowance

__all__ = [
    "PROGRAM_REPORT",
    "CallDecision",
    "CallErrorKind",
    "CallOrigin",
    "CallOutcome",
    "Completion",
    "ExecutionStopped",
    "GuestError",
    "OutputFile",
    "Reply",
    "RunOutcome",
    "RunRequest",
    "Stop",
    "ToolCallRecord",
    "ToolChannel",
    "ToolStub",
    "error_reply",
    "ok_reply",
    "report_too_large",
]

#: How a failed tool call is reported to the guest: each becomes a catchable exception there.
#: error: the tool raised; invalid: bad arguments; unknown: no such tool; denied: not approved.
CallErrorKind: TypeAlias = Literal["error", "invalid", "unknown", "denied"]

#: The answer to one tool call: (ok, payload). ok: payload is the result as JSON text;
#: not ok: payload is ``{"kind": CallErrorKind, "message": str}`` as JSON text.
Reply: TypeAlias = tuple[bool, str]

#: A finished call started with `ToolChannel.start`: (call id, reply).
Completion: TypeAlias = tuple[int, Reply]


def ok_reply(result_json: str) -> Reply:
    return (True, result_json)


def error_reply(kind: CallErrorKind, message: str) -> Reply:
    return (False, json.dumps({"kind": kind, "message": message}))


class ExecutionStopped(Exception):
    """Control flow: a limit stops the program. Raised by the channel inside a host call;
    the backend ends the guest at once (a trap) and reports `Stop(limit, message)`."""

    def __init__(self, limit: LimitName, message: str) -> None:
        super().__init__(message)
        self.limit: LimitName = limit
        self.message = message


class ToolChannel(Protocol):
    """The host end of `call_tool`, as a sandbox backend sees it.

    Backends call these from the thread (or relay) that serves the guest. `call` and `wait`
    block; both may raise `ExecutionStopped`, which must end the program.
    """

    def begin(self) -> None:
        """The program starts running now: the wall-time clock starts."""
        ...

    def end(self) -> None:
        """The run is over and its outcome on its way to the loop (`ended_by`, on the thread
        that ran it): a clock read later, when a busy loop gets round to it, stops nothing."""
        ...

    @property
    def deadline(self) -> float:
        """`time.monotonic()` value at which the program must stop (moves when approvals wait)."""
        ...

    def call(self, name: str, args_json: str) -> Reply:
        """Run one tool call to completion and return its reply."""
        ...

    def start(self, name: str, args_json: str) -> int | Reply:
        """Start a call without waiting: its id, or a reply at once if it failed to start."""
        ...

    def wait(self, timeout: float | None) -> list[Completion]:
        """Block until a started call finishes (or `timeout` seconds pass); return the finished."""
        ...

    def pending(self) -> int:
        """Number of started calls that have not been returned by `wait` yet."""
        ...

    def write_output(self, stream: int, text: str) -> None:
        """Program output (stream 1: stdout, 2: stderr); the host caps what it keeps."""
        ...

    def freeze_with(self, freeze: Callable[[bool], None] | None) -> None:
        """`freeze(True)` stops the program, `(False)` lets it go on: called as its clock stops
        for a person's decision and goes on (threads can compute while a call blocks)."""
        ...

    def http_request(self, request_json: str) -> Reply:
        """Send one HTTP request for the program if the allow-list permits it; blocks.

        `request_json`: ``{"method", "url", "headers": [[name, value]...], "body": base64
        or null, "timeout": seconds or null}``. ok: ``{"status", "reason", "url",
        "headers", "body": base64}``; not ok: kind "denied" (no rule allows it) or "error".
        """
        ...


@dataclass(frozen=True)
class ToolStub:
    """What the guest knows of a tool: its name and how to map positional arguments, and what
    its plain function shows a program (``inspect.signature``, ``__doc__``, ``help()``): its
    `params` (``(name, kind, annotation, default)``, see `codeact.tools.schema.GuestParam`;
    None: no signature), the type it `returns` and its `doc`, all as text."""

    name: str
    positional: tuple[str, ...] = ()
    params: tuple[tuple[str, str, str, str | None], ...] | None = None
    returns: str = ""
    doc: str = ""

    def to_json(self) -> dict[str, Any]:
        stub: dict[str, Any] = {"name": self.name, "positional": list(self.positional)}
        if self.params is not None:
            stub["params"] = [list(p) for p in self.params]
            stub["returns"] = self.returns
        if self.doc:
            stub["doc"] = self.doc
        return stub


@dataclass(frozen=True)
class RunRequest:
    """One program to run, with what the guest needs to know about tools and limits.

    `mounts` are the host directories granted to this execution only (checked by
    `policy.mounts.check_mounts`). Every execution also gets its own empty directory at
    ``/output``, made and collected by the backend within `output_limits`.
    """

    code: str
    tools: tuple[ToolStub, ...] = ()
    limits: Limits = field(default_factory=Limits)
    filename: str = "<code>"
    mounts: tuple[Mount, ...] = ()
    output_limits: OutputLimits = field(default_factory=OutputLimits)
    #: Installed packages granted read-only to this execution (`policy.packages`).
    packages: PackageGrant | None = None
    #: A session's state to restore before the program runs (None: not a session's run).
    state: StateCarry | None = None

    def to_guest_json(self, *, raw_state: bool = False, fetch_state: bool = False) -> str:
        """The request as the runner reads it. `raw_state`: a session's state follows the
        JSON as raw bytes instead of base64 inside it (see `StateCarry.raw_tail`).
        `fetch_state`: only its size goes; the guest asks for the pieces it needs (the
        backend answers `STATE_READ` calls with `StateCarry.piece`)."""
        text = json.dumps(self._guest_request(raw_state=raw_state, fetch_state=fetch_state))
        if self.state is not None and raw_state:
            return text + self.state.raw_tail(fetch=fetch_state)
        return text

    def _guest_request(self, *, raw_state: bool, fetch_state: bool) -> dict[str, Any]:
        request: dict[str, Any] = {
            "code": self.code,
            "filename": self.filename,
            "tools": [t.to_json() for t in self.tools],
            "output_limit": self.limits.output_bytes,
            "argument_limit": self.limits.tool_argument_bytes,
            "mounts": [{"path": m.guest, "mode": m.mode} for m in self.mounts],
        }
        grant = self.packages
        if grant is not None:
            request["packages"] = {"path": grant.guest_path(), "modules": list(grant.modules)}
        if self.state is not None:
            request["session"] = self.state.to_guest(raw=raw_state, fetch=fetch_state)
        return request


@dataclass(frozen=True)
class OutputFile:
    """A file the program wrote under /output: its path below /output, media type and bytes."""

    path: str
    media_type: str
    data: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def shown_path(self) -> str:
        """`path` as shown and written out: a byte of the name that is not UTF-8 (`path` holds
        it as a lone surrogate, as ``os.fsdecode`` gives it) as ``\\xNN`` (`shown_name`)."""
        return shown_name(self.path)

    def to_dict(self) -> dict[str, Any]:
        """Metadata only (the bytes stay out of JSON; `codeact exec --output-dir` saves them).
        The path is `shown_path`: JSON cannot hold a name that is not UTF-8."""
        return {
            "path": self.shown_path,
            "media_type": self.media_type,
            "size": self.size,
            "sha256": hashlib.sha256(self.data).hexdigest(),
        }


@dataclass(frozen=True)
class GuestError:
    """An exception that the program did not catch, as the guest reported it."""

    type: str
    message: str
    traceback: str = ""
    lineno: int | None = None


@dataclass(frozen=True)
class Stop:
    """The program was stopped by a limit (or by the host); `message` says which and why."""

    limit: LimitName
    message: str


#: The stream of `ToolChannel.write_output` that is not output: a session program's report,
#: handed over before its state is saved, which the backends keep (`RunOutcome.unsaved`).
PROGRAM_REPORT = 4


@dataclass
class RunOutcome:
    """What a backend reports for one run, before the host adds tool calls and timings.

    The program's stdout and stderr are not here: they reach the host as the program runs, by
    `ToolChannel.write_output` only (so they survive a stop), into the bridge's output."""

    value: Any = None  # the last expression's value, when it is JSON
    value_repr: str | None = None  # its repr() when it is not JSON
    has_value: bool = False
    value_truncated: int = 0  # bytes of the value's repr() the output limit cut
    error: GuestError | None = None
    stop: Stop | None = None
    timings: dict[str, float] = field(default_factory=dict)
    files: list[OutputFile] = field(default_factory=list)  # collected from /output
    files_skipped: list[str] = field(default_factory=list)  # why others were not returned
    exit_status: int | None = None  # the status the program gave sys.exit()
    state: GuestState | None = None  # a session's run: the state the guest handed back

    @classmethod
    def from_guest_json(
        cls, text: str, *, max_chars: int, state: StateCarry | None = None
    ) -> RunOutcome:
        """Parse a guest's report; malformed, oversized or absurd reports (too deep, numbers
        that JSON cannot hold) become an error outcome. Never raises: the guest is untrusted.
        With `state` (a session's run), the report may be larger by the state it returns, as
        base64 inside it or as raw bytes after it (after a NUL, see `RunRequest.to_guest_json`).
        """
        try:
            return cls._from_guest_json(text, max_chars=max_chars, state=state)
        except Exception as exc:  # whatever the guest sent, it must not reach execute()'s caller
            return cls(error=GuestError("SandboxError", _bad_report(type(exc).__name__)))

    @classmethod
    def unsaved(cls, program_report: str, ended: RunOutcome, *, max_chars: int) -> RunOutcome:
        """A session's program that finished, whose sandbox then ended while saving its state
        (`ended`: what the backend saw): the program's own outcome, from the report the guest
        handed over before saving (stream `PROGRAM_REPORT`), and the state not kept.

        A limit that stopped the sandbox stays the outcome's stop (the run as a whole ran past
        it), with the program's value and output: the report is the guest's word, and a
        program can hand one over itself before running into a limit."""
        outcome = cls.from_guest_json(program_report, max_chars=max_chars)
        why = (
            ended.stop.message
            if ended.stop is not None
            else f"{ended.error.type}: {ended.error.message}"
            if ended.error is not None
            else "it ended without a report"
        )
        if ended.stop is not None:
            outcome.stop = ended.stop
        outcome.state = GuestState(failed=f"saving them ended the sandbox: {why}")
        return outcome

    @classmethod
    def _from_guest_json(cls, text: str, *, max_chars: int, state: StateCarry | None) -> RunOutcome:
        if not isinstance(text, str):
            return cls(error=GuestError("SandboxError", "the sandbox's report was not text"))
        raw_state = None
        if state is not None:
            max_chars += report_allowance(state)
            text, _, raw_state = text.partition("\x00")
        if len(text) > max_chars:
            why = report_too_large(len(text), max_chars, text[:512])
            return cls(error=GuestError("SandboxError", why))
        try:
            data, huge = loads(text)  # an integer of thousands of digits: a note, the rest kept
        except (ValueError, RecursionError):
            return cls(error=GuestError("SandboxError", "the sandbox's report was not JSON"))
        if not isinstance(data, dict):
            return cls(error=GuestError("SandboxError", "the sandbox's report was not an object"))
        error = None
        raw_error = data.get("error")
        if isinstance(raw_error, dict):
            lineno = raw_error.get("lineno")
            error = GuestError(
                type=_str(raw_error.get("type"), "Exception")[:_MAX_TYPE_NAME],
                message=_str(raw_error.get("message")),
                traceback=_str(raw_error.get("traceback")),
                lineno=lineno if isinstance(lineno, int) and not isinstance(lineno, bool) else None,
            )
        value = data.get("value")
        value_repr = data["value_repr"] if isinstance(data.get("value_repr"), str) else None
        note = value_problem(value, huge=huge)  # too deep to walk, or an integer not read
        if note is not None:
            value, value_repr = None, note
        status = data.get("exit_status")
        cut = data.get("value_truncated")
        return cls(
            value_truncated=cut if type(cut) is int and cut > 0 and value_repr is not None else 0,
            exit_status=status if type(status) is int else None,
            value=value,
            value_repr=value_repr,
            has_value=data.get("has_value") is True,
            error=error,
            state=GuestState.from_guest(
                data.get("session"), limit=state.limit, raw_state=raw_state, sent=state.state
            )
            if state
            else None,
        )


def _bad_report(why: str) -> str:
    return f"the sandbox's report could not be used ({why})"


#: The most characters of an error's type name kept from a report (the guest cuts it there).
_MAX_TYPE_NAME = 200


def _str(value: object, default: str = "") -> str:
    return value if isinstance(value, str) else default
