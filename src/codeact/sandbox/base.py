"""The contract every sandbox backend implements.

A backend runs one program per `run` call in a fresh, isolated interpreter and moves tool-call
frames over the `ToolChannel` it is given; it never sees the tools themselves. The user-facing
`CodeAct` wraps a backend the way an HTTP client wraps its transport.

Contract (pinned by the conformance suite in ``tests/conformance``):

* fresh: nothing a program does is visible to the next one;
* isolated: no host files, environment, network or processes unless a policy grants them;
* limits: wall time (``channel.deadline``), memory and output are enforced by the backend,
  tool-call limits by the channel (which raises `ExecutionStopped` inside a host call);
  a limit ends the program with ``RunOutcome.stop`` set and leaves the host healthy;
* cancellation: if the awaiting task is cancelled, the program is stopped promptly and
  `run` returns at once (a thread still blocked in the guest may finish later on its own).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeAlias, TypeVar

from .._lifecycle import Closeable
from ..bridge.protocol import RunOutcome, RunRequest, ToolChannel

__all__ = ["Availability", "Isolation", "SandboxBackend", "ended_by"]

T = TypeVar("T")

#: How strong the boundary is: `strongest` a micro-VM, `strong` a Wasm guest with capability
#: WASI, `medium` a process on the shared kernel with seccomp and Landlock, `none` no boundary.
Isolation: TypeAlias = Literal["strongest", "strong", "medium", "none"]


@dataclass(frozen=True)
class Availability:
    """Whether a backend can run on this machine, and if not, why (and what would fix it)."""

    available: bool
    reason: str = ""
    versions: dict[str, str] = field(default_factory=dict)


class SandboxBackend(Closeable, ABC):
    """Runs programs in fresh isolated interpreters. Subclass it to add a backend."""

    #: Name used in `CodeAct(backend=...)`, the CLI and reports.
    name: ClassVar[str]
    #: Strength of the isolation boundary.
    isolation: ClassVar[Isolation]
    #: Whether programs may start threads. Threads stay inside the sandbox, under the same
    #: walls and limits, and end with the program.
    threads: ClassVar[bool] = False
    #: Whether the backend runs codeact's guest runtime, which saves and restores a session's
    #: state (`CodeAct.session`) inside the sandbox.
    keeps_state: ClassVar[bool] = True

    @classmethod
    @abstractmethod
    def availability(cls) -> Availability:
        """Check, cheaply and without side effects, whether this backend can run here."""

    def prepare(self) -> None:
        """Do expensive one-time work now (build, compile, warm a pool); blocking."""

    @abstractmethod
    async def run(self, request: RunRequest, channel: ToolChannel) -> RunOutcome:
        """Run one program in a fresh sandbox and report what happened."""

    def close(self) -> None:
        """Release pooled sandboxes and threads. The backend cannot be used afterwards."""


def ended_by(channel: ToolChannel, run: Callable[..., T], /, *args: Any) -> T:
    """`run(*args)`, a backend's blocking run on its own thread, then `channel.end()`: from
    then on the outcome is on its way to the event loop, and a supervisor that only gets to
    look later (the loop was busy) must not stop the run by the clock and lose the outcome."""
    try:
        return run(*args)
    finally:
        channel.end()
