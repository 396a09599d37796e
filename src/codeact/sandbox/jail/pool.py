"""The jail's children made ahead of time: confined for the walls the runs ask for, and spares.

A child gets its walls (limits, file mounts, its /output) as a frame of its own, before its
run: a pooled child goes through its whole confinement while it waits, so a run's request
meets a child with every wall up. A run is handed only a child confined exactly as it asks
(`Walls`: the kernel's limits and the mounts, each folder as it is at its path now); the pool
prepares the walls of the runs that come (`PoolWalls`). Spares are children forked and warmed
without walls, for a run whose walls the confined ones do not have: theirs go with the run.
A run that finds neither gets a child forked for it, on its own path.
"""

from __future__ import annotations

import collections
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ...errors import SandboxError
from ...policy.limits import Limits
from ...policy.mounts import Mount
from ...policy.outputs import OutputLimits
from ..artifacts import OutputsClosedError, new_output_dir
from ..cleanup import REMOVER
from ..guest.wire import encode_frame
from ..pool_walls import Folders, PoolWalls, folders
from .zygote import Child, Zygote

__all__ = ["OPEN_FILES", "SESSION_RUNS", "ChildPool", "Walls", "confinement_limits", "discard"]

OPEN_FILES = 256
#: Pooled children warm up as a session's run while one of the last this many runs was a
#: session's (and as a plain run's otherwise: the session's part costs 1.5 ms of CPU a child).
SESSION_RUNS = 32


def confinement_limits(limits: Limits, output_limits: OutputLimits) -> dict[str, int]:
    """The kernel's limits for a run with `limits` (`confine.Confinement`'s fields)."""
    return {
        "memory_bytes": limits.memory_bytes,
        # A backstop: the host kills at the wall time. Threads can use CPU faster than
        # the clock runs, hence the margin.
        "cpu_seconds": math.ceil(limits.wall_time * 2) + 1,
        # Past disk_bytes the watch stops the program anyway: a single file may grow to
        # twice that (so it is surely over) before the kernel refuses with EFBIG.
        "file_bytes": 2 * output_limits.disk_bytes + 1,
        "open_files": OPEN_FILES,
    }


@dataclass(frozen=True)
class Walls:
    """What a child is confined with: the kernel's limits and the file mounts.

    A mount is (host path, sandbox path, writable, identity): the identity is the host
    folder's (device, inode) when the walls were asked for, so a pooled child that bound a
    folder since replaced at the same path (or gone) is not the same walls."""

    limits: dict[str, int]
    mounts: Folders

    @classmethod
    def of(cls, limits: dict[str, int], mounts: Sequence[Mount]) -> Walls:
        return cls(limits, folders(mounts))


class ChildPool:
    """`size` children confined for the pool's walls and spares, refilled on a thread.

    `zygote()` is the backend's zygote now (None when there is none); `live_zygote()` one
    that runs, started anew if it died (for a child forked on a caller's path).

    One spare beside the confined children while runs keep to the pool's walls; `size`
    spares, and no more confined children made, while runs with other walls come (CodeActs
    taking turns on one backend). A spare's walls cost its run about 0.6 ms to bind and
    confine, against about 10 ms to fork and set up a child from the start.
    """

    def __init__(
        self, size: int, zygote: Callable[[], Zygote | None], live_zygote: Callable[[], Zygote]
    ) -> None:
        self._size = max(0, size)
        self._zygote = zygote
        self._live_zygote = live_zygote
        self._ready: collections.deque[Child] = collections.deque()  # confined, waiting
        self._spares: collections.deque[Child] = collections.deque()
        self._since_session = SESSION_RUNS  # runs since the last session's run
        # The default limits and no mounts until a run comes.
        self._walls = PoolWalls(Walls(confinement_limits(Limits(), OutputLimits()), ()))
        self._refill = threading.Event()
        self._filler: threading.Thread | None = None
        self._closed = False

    def start(self) -> None:
        """Start the refilling thread (once) and fill the pool."""
        if self._size and self._filler is None:
            self._filler = threading.Thread(
                target=self._fill, name="codeact-jail-pool", daemon=True
            )
            self._filler.start()
        self._refill.set()

    def refill(self) -> None:
        self._refill.set()

    def discard_all(self) -> None:
        for pooled in (self._ready, self._spares):
            while (child := _pop(pooled)) is not None:
                discard(child)

    def close(self) -> None:
        self._closed = True
        self._refill.set()
        self.discard_all()

    def take(self, walls: Walls, *, session: bool) -> Child:
        """A child confined with `walls` (or to be: a spare's `unsent` frame), for a run that
        is a session's or not."""
        self._since_session = 0 if session else self._since_session + 1
        if self._walls.ask(walls):
            # Pooled children have other walls: refills take this run's.
            while (child := _pop(self._ready)) is not None:
                discard(child)
        zygote = self._zygote()
        alive = zygote is not None and zygote.alive
        # Callers take concurrently: pop, never test for emptiness and then pop.
        while (child := _pop(self._ready)) is not None:
            # A pooled child dies with its zygote (PR_SET_PDEATHSIG): check the zygote too.
            # Its walls must be the ones asked for (a refill may have raced a change).
            if child.walls == walls and alive and not child.exited.done():
                return child
            discard(child)
        while (child := _pop(self._spares)) is not None:
            if zygote is not None and alive and not child.exited.done():
                # Its walls go with its run, once it is placed: sent now, they would wake it
                # wherever it sleeps.
                _confine(child, zygote, walls, warm=False, send=False)
                return child
            discard(child)
        child, zygote = self._fork()
        _confine(child, zygote, walls, warm=False)  # the caller waits for it
        return child

    def _fork(self) -> tuple[Child, Zygote]:
        for attempt in range(2):
            zygote = self._live_zygote()
            try:
                return zygote.fork(), zygote
            except SandboxError:
                if attempt:
                    raise
                # It died just now: `live_zygote` replaces it.
        raise AssertionError("unreachable")

    def _fill(self) -> None:
        while not self._closed:
            self._refill.wait()
            self._refill.clear()
            while not self._closed:
                if self._walls.steady:
                    spare = len(self._ready) >= self._size
                    if spare and self._spares:
                        break
                else:
                    spare = True
                    if len(self._spares) >= self._size:
                        break
                zygote = self._zygote()
                if zygote is None or not zygote.alive:
                    break
                walls = self._walls.current
                try:
                    child = zygote.fork()
                except SandboxError:
                    break
                # Its empty /output and its walls too, not on the caller's path: mkdtemp
                # takes 0.15-0.4 ms, binding and confining 0.6. The warm-up as a session's
                # run only while sessions' runs come: their state's saving and restoring is
                # about half of its work (1.5 ms of CPU a child).
                warm = "session" if self._since_session < SESSION_RUNS else "plain"
                try:
                    _confine(child, zygote, None if spare else walls, warm=warm)
                except OutputsClosedError:
                    child.close()
                    return  # the process is exiting
                if self._closed:
                    discard(child)
                    return
                (self._spares if spare else self._ready).append(child)


def _pop(pooled: collections.deque[Child]) -> Child | None:
    try:
        return pooled.popleft()
    except IndexError:
        return None


def discard(child: Child) -> None:
    """Close a child that never ran a program, and remove its unused /output later."""
    child.close()
    if child.output_dir is not None:
        REMOVER.remove_later(child.output_dir)
        child.output_dir = None


def _confine(
    child: Child, zygote: Zygote, walls: Walls | None, *, warm: str | bool, send: bool = True
) -> None:
    """Give a child its /output (where the machine allows one) and send it its walls, the
    frame before its run: it confines itself with them, then waits for its run. `warm`: run
    the runner's warm-up first (a pooled child, which has the time), "plain" as a plain run's,
    not a session's. No `walls`: a spare, which warms and waits for its walls (this again,
    with them). `send=False`: leave the frame in `child.unsent` for the caller to send."""
    if child.output_dir is None and zygote.info.get("namespaces", False):
        child.output_dir = new_output_dir()
    child.walls = walls
    frame: dict[str, object] = {"warm": warm}
    if walls is not None:
        frame["limits"] = walls.limits
        frame["mounts"] = [[host, guest, writable] for host, guest, writable, _ in walls.mounts]
        frame["output"] = child.output_dir
    if send:
        send_frame(child, encode_frame(frame))
    else:
        child.unsent = encode_frame(frame)


def send_frame(child: Child, frame: bytes) -> None:
    try:
        child.sock.sendall(frame)
    except OSError:
        pass  # it is gone already: its exit status says why when the run is served
