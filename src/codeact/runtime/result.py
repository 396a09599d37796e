"""`ExecutionResult`: what one execution of model code produced, for people and for models."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .._display import shown_name, utf8_safe, visible
from ..bridge.http_egress import HttpRequestRecord
from ..bridge.output import CappedOutput
from ..bridge.protocol import OutputFile, RunOutcome, ToolCallRecord
from ..calls.audit import records_to_jsonl
from ..policy.limits import LimitName
from .session import SessionReport

__all__ = ["TIMING_KEYS", "ExecutionError", "ExecutionResult", "complete_timings"]

#: The timings every result carries (milliseconds), whatever ended the program: a step that
#: did not happen (nothing ran: a block that was not approved) is 0.0. A session's results add
#: ``state_restore_ms`` and ``state_save_ms``.
TIMING_KEYS = ("setup_ms", "run_ms", "tools_ms", "approval_ms", "total_ms")


def complete_timings(timings: dict[str, float]) -> dict[str, float]:
    """`timings` with every key of `TIMING_KEYS` (0.0 where it has none), those first."""
    return {**{key: 0.0 for key in TIMING_KEYS}, **timings}


@dataclass(frozen=True)
class ExecutionError:
    """Why a program did not finish normally.

    `limit` names the limit that stopped it (``wall_time``, ``memory``, ``tool_calls``,
    ``tool_timeout``, ``output_files``, ``network``, ``approvals``; ``code``: the program was
    too large to run at all), or is None when the program itself raised.
    """

    type: str
    message: str
    traceback: str = ""
    limit: LimitName | None = None
    lineno: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "message": self.message,
            "traceback": self.traceback,
            "limit": self.limit,
            "lineno": self.lineno,
        }


@dataclass
class ExecutionResult:
    """The result of `CodeAct.execute`: output, the last expression's value, errors, tool calls.

    A program that raises is not an exception on the host: `ok` is False and `error` holds
    the traceback, with line numbers of the submitted code. `files` are what it wrote under
    /output (`files_skipped` says which were not returned and why); `http_requests` lists
    every HTTP request it asked the host to send, refused ones included.
    """

    ok: bool
    value: Any = None  #: the last expression's value as JSON values (None if it had none)
    value_repr: str | None = None  #: repr() of the value when it has no JSON form
    stdout: str = ""
    stderr: str = ""
    #: Bytes the output limit cut: of what the program printed, and of its last line's value
    #: (`value_truncated` of them). Non-zero means something the program produced is missing.
    output_truncated: int = 0
    error: ExecutionError | None = None
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  #: milliseconds
    files: list[OutputFile] = field(default_factory=list)
    files_skipped: list[str] = field(default_factory=list)
    http_requests: list[HttpRequestRecord] = field(default_factory=list)
    #: The whole-block approval, when the block was asked about before it ran.
    approval: ToolCallRecord | None = None
    #: ``name==version`` of every package the program could import (`CodeAct(packages=...)`).
    packages: list[str] = field(default_factory=list)
    #: The status the program passed to ``sys.exit()`` (0 for success; None when it did not
    #: call it). A non-zero status is also an error of type ``SystemExit``.
    exit_status: int | None = None
    #: In a `Session`: what this call did to the session's state (None outside a session).
    session: SessionReport | None = None
    #: Bytes of the last line's value that the output limit cut: the value is then
    #: `value_repr`, its repr() cut short (``... [N more bytes cut]``), not `value`.
    value_truncated: int = 0

    @classmethod
    def from_outcome(
        cls,
        outcome: RunOutcome,
        tool_calls: list[ToolCallRecord],
        timings: dict[str, float],
        *,
        memory_mb: int,
        output: CappedOutput | None = None,
        http_requests: list[HttpRequestRecord] | None = None,
        approval: ToolCallRecord | None = None,
    ) -> ExecutionResult:
        """The result of one run: the backend's `outcome`, and the program's stdout and
        stderr from `output` (the one road they take to the host)."""
        error: ExecutionError | None = None
        if outcome.stop is not None:
            error = ExecutionError(
                type="LimitExceeded", message=outcome.stop.message, limit=outcome.stop.limit
            )
        elif outcome.error is not None:
            e = outcome.error
            # CPython's parser reports a program nested too deep to parse as a MemoryError:
            # that is the program's shape, not the memory limit (more memory changes nothing).
            parser = e.type == "MemoryError" and "too complex to parse" in e.message
            limit: LimitName | None = "memory" if e.type == "MemoryError" and not parser else None
            message = e.message
            if limit == "memory":
                message = (message + " " if message else "") + (
                    f"(the program ran out of memory; Limits.memory_mb={memory_mb})"
                )
            error = ExecutionError(e.type, message, e.traceback, limit, e.lineno)
        return cls(
            ok=error is None,
            value=outcome.value if outcome.has_value and outcome.value_repr is None else None,
            value_repr=outcome.value_repr,
            stdout=output.stdout if output is not None else "",
            stderr=output.stderr if output is not None else "",
            output_truncated=(output.dropped if output is not None else 0)
            + outcome.value_truncated,
            value_truncated=outcome.value_truncated,
            error=error,
            tool_calls=tool_calls,
            timings=timings,
            files=list(outcome.files),
            files_skipped=list(outcome.files_skipped),
            http_requests=list(http_requests or ()),
            approval=approval,
            exit_status=outcome.exit_status,
        )

    @classmethod
    def not_approved(cls, approval: ToolCallRecord, timings: dict[str, float]) -> ExecutionResult:
        """The block was denied before it ran: nothing ran, the error says why."""
        error = ExecutionError(
            type="ToolDenied",
            message=f"the program was not run: it was not approved ({approval.error})",
        )
        return cls(ok=False, error=error, timings=complete_timings(timings), approval=approval)

    @classmethod
    def worker_lost(cls, message: str, timings: dict[str, float]) -> ExecutionResult:
        """The process running the program died (a killed worker, a lost node): what the
        program did before is unknown (its tool calls may have run), so `error.type` is
        ``"WorkerLost"`` and the message says whether it was retried."""
        error = ExecutionError("WorkerLost", message)
        return cls(ok=False, error=error, timings=complete_timings(timings))

    def audit_records(self) -> list[ToolCallRecord]:
        """The block's approval (if it was asked) and every tool call, in order."""
        return ([self.approval] if self.approval is not None else []) + list(self.tool_calls)

    def audit_jsonl(self) -> str:
        """`audit_records` as JSON lines: one object per call."""
        return records_to_jsonl(self.audit_records())

    def write_audit(self, target: str | Path | IO[str]) -> None:
        """Append `audit_jsonl` to a file (by path) or write it to an open text stream."""
        text = self.audit_jsonl()
        if isinstance(target, (str, Path)):
            with Path(target).open("a", encoding="utf-8") as f:
                f.write(text)
        else:
            target.write(text)

    @property
    def has_value(self) -> bool:
        return self.value is not None or self.value_repr is not None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (`codeact exec --json`). Files appear as metadata (path, media
        type, size, sha256); their bytes are in `files[i].data`, not in the JSON."""
        return {
            "ok": self.ok,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "value": self.value_repr if self.value_repr is not None else self.value,
            "value_is_repr": self.value_repr is not None,
            "output_truncated_bytes": self.output_truncated,
            "value_truncated_bytes": self.value_truncated,
            "error": self.error.to_dict() if self.error else None,
            "tool_calls": [c.to_dict() for c in self.tool_calls],
            "approval": self.approval.to_dict() if self.approval is not None else None,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "files": [f.to_dict() for f in self.files],
            "files_skipped": [shown_name(why) for why in self.files_skipped],
            "http_requests": [r.to_dict() for r in self.http_requests],
            "packages": list(self.packages),
            "exit_status": self.exit_status,
            **({"session": self.session.to_dict()} if self.session is not None else {}),
        }

    def to_model_text(self) -> str:
        """What the model reads back from `execute_code`: output, value, error, in that order."""
        parts: list[str] = []
        if self.stdout:
            parts.append(self.stdout.rstrip("\n"))
        if self.stderr:
            parts.append("[stderr]\n" + self.stderr.rstrip("\n"))
        if self.value_repr is not None:
            parts.append(f"[value] {self.value_repr}")
        elif self.value is not None:
            parts.append(f"[value] {json.dumps(self.value, ensure_ascii=False)}")
        if self.files:
            listed = ", ".join(  # a file's name is the program's: no line of its own
                f"/output/{visible(f.shown_path, newlines=False)} ({f.media_type}, {f.size} bytes)"
                for f in self.files
            )
            parts.append(f"[files returned] {listed}")
        if self.files_skipped:
            skipped = "; ".join(
                visible(shown_name(why), newlines=False) for why in self.files_skipped
            )
            parts.append(f"[files not returned] {skipped}")
        printed_cut = self.output_truncated - self.value_truncated
        if printed_cut > 0:
            parts.append(
                f"[output truncated: {printed_cut} bytes over the output limit "
                "were dropped; print less]"
            )
        if self.value_truncated:
            parts.append(
                f"[value truncated: {self.value_truncated} bytes of the last line's value over "
                "the output limit were dropped; end with a smaller value, such as a summary]"
            )
        if self.error is not None:
            if self.error.limit is not None and self.error.type == "LimitExceeded":
                parts.append(f"[stopped] {self.error.message}")
            elif self.error.type == "ToolDenied" and not self.error.traceback:
                parts.append(f"[denied] {self.error.message}")
            elif self.error.type == "SystemExit" and not self.error.traceback:
                parts.append(f"[exited] {self.error.message}")
            else:
                parts.append(
                    "[error]\n"
                    + (
                        self.error.traceback.rstrip("\n")
                        or f"{self.error.type}: {self.error.message}"
                    )
                )
                if self.error.limit == "memory":
                    parts.append(f"[stopped] {self.error.message}")
        if not parts:
            parts.append("[the program printed nothing and its last line had no value]")
        if self.session is not None and (session := self.session.to_model_text()):
            parts.append(session)
        # Lone surrogates (a program's strings may hold them) escaped: the text goes to a
        # model's API, an MCP client or a framework, each of which encodes it as UTF-8.
        return utf8_safe("\n".join(parts))


#: How `ExecutionResult.to_model_text` opens the parts that are not the program's own output
#: (its status and its stderr): a reply that begins with one copies the response back.
STATUS_MARKERS = (
    "[error]",
    "[stopped]",
    "[denied]",
    "[exited]",
    "[stderr]",
    "[output truncated",
    "[value truncated",
)
