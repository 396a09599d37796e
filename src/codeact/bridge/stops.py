"""Every way the host stops a program, each made in one place with its one message.

A backend, the bridge or the egress that has to stop a program asks here for the `Stop` (what
the result reports) or raises `stopping(...)` of it (what ends the program from inside a host
call). The wording of a stop is therefore written once, whichever backend or thread hits it.
"""

from __future__ import annotations

from .._display import visible
from ..policy.limits import Limits
from ..policy.network import NetworkLimits
from ..policy.outputs import OutputLimits
from .protocol import ExecutionStopped, Stop

__all__ = [
    "approvals",
    "cancelled",
    "code_size",
    "code_too_large",
    "cpu_time",
    "http_requests",
    "memory",
    "open_files",
    "output_files",
    "stopping",
    "tool_calls",
    "tool_timeout",
    "wall_time",
]


def stopping(stop: Stop) -> ExecutionStopped:
    """The exception that ends the program with `stop` from inside a host call."""
    return ExecutionStopped(stop.limit, stop.message)


def wall_time(limits: Limits) -> Stop:
    return Stop(
        "wall_time",
        f"the program ran longer than its wall-time limit (Limits.{limits.describe('wall_time')}) "
        "and was stopped",
    )


def cancelled() -> Stop:
    """The host cancelled the execution (its caller's task was cancelled)."""
    return Stop("wall_time", "the execution was cancelled by the host")


def cpu_time(signal_name: str) -> Stop:
    return Stop("wall_time", f"the program used up its CPU time ({signal_name}) and was stopped")


def memory(limits: Limits, how: str) -> Stop:
    """The interpreter died for want of memory; `how` says how it ended ("aborted", ...)."""
    return Stop(
        "memory",
        f"the program's interpreter {how}, most likely out of memory "
        f"(Limits.memory_mb={limits.memory_mb})",
    )


def tool_timeout(name: str, own: float | None, limits: Limits) -> Stop:
    """`own`: the tool's own timeout (``@tool(timeout=...)``, an adapter's), if it has one;
    else `Limits.tool_timeout` holds."""
    seconds = limits.tool_timeout if own is None else own
    where = "the tool's own timeout" if own is not None else f"Limits.tool_timeout={seconds:g}s"
    return Stop(
        "tool_timeout",
        f"the call of {name}() took longer than its timeout ({seconds:g}s) "
        f"and the program was stopped ({where})",
    )


def tool_calls(limits: Limits, name: str) -> Stop:
    return Stop(
        "tool_calls",
        f"the program made more than {limits.tool_calls} tool calls "
        f"({limits.describe('tool_calls')}) and was stopped at a call of "
        f"{visible(name[:100], newlines=False)}()",  # the name is the program's to choose
    )


def http_requests(limits: NetworkLimits) -> Stop:
    return Stop(
        "network",
        f"the program made more than {limits.max_requests} HTTP requests "
        f"(NetworkLimits.max_requests={limits.max_requests}) and was stopped",
    )


def output_files(limits: OutputLimits) -> Stop:
    """The program wrote far past `limits` under /output (it must not fill the host's disk)."""
    return Stop(
        "output_files",
        f"the program kept writing under /output far past {limits!r} (more than "
        f"{limits.disk_bytes} bytes or {limits.disk_entries} entries) and was stopped, "
        "so that it cannot fill the host's disk",
    )


def open_files(held: int | None, bound: int) -> Stop:
    """The program held more files open at once than a run may (they are the host's), or
    the host ran out of descriptors while it held files (`held` None)."""
    what = (
        f"held {held} files open at once, more than the {bound} a run may,"
        if held is not None
        else "held files open while the host ran out of file descriptors"
    )
    return Stop(
        "open_files",
        f"the program {what} and was stopped, so that the host's descriptors stay free for "
        "other runs; close files you are done with (use `with open(...)`)",
    )


def approvals(limits: Limits, *, waited: float | None = None) -> Stop:
    """The program asked for more approvals, or waited longer for them, than its limits allow."""
    if waited is None:
        what = f"asked for approval again after {limits.approval_denials} denials"
    else:
        what = f"waited {waited:.3g}s for approvals in all"
    return Stop(
        "approvals",
        f"the program {what} ({limits.describe('approvals')}: Limits.approval_denials, "
        "Limits.approval_wait) and was stopped",
    )


def code_size(code: str, limits: Limits) -> str | None:
    """How large `code` is ("1,200 bytes", "2,000,000 characters") when its UTF-8 text is
    larger than `Limits.code_bytes`, else None; never encodes more than the limit allows (a
    character is 1-4 bytes)."""
    if len(code) * 4 <= limits.code_bytes:
        return None
    if len(code) > limits.code_bytes:
        return f"{len(code):,} characters"
    size = len(code.encode("utf-8", "surrogatepass"))
    return f"{size:,} bytes" if size > limits.code_bytes else None


def code_too_large(limits: Limits, size: str) -> Stop:
    """The program's text (`size`, from `code_size`) is larger than `Limits.code_bytes`."""
    return Stop(
        "code",
        f"the program was not run: its text is {size}, more than "
        f"{limits.describe_size('code_bytes')}. Send a shorter program: large data belongs "
        "in a tool's result or a mounted file, not in the code",
    )
