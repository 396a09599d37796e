"""`JailBackend`: each program runs in a fresh child of a pre-warmed CPython, behind the kernel's
own walls (Linux only).

A zygote process imports the runner and the allowed packages once; every run gets a child
forked from it, which clears its environment, sets resource limits, drops capabilities, applies
Landlock (read-only access to the interpreter's files and the allowed packages; no TCP where the
kernel's Landlock ABI is 4 or newer; no signals or abstract sockets outside where it is 6 or
newer) and a seccomp filter (no new processes, programs or sockets; threads are fine), then runs
the program with the same runner as every backend. Tool calls cross a socketpair; output comes
back through two pipes; the host kills the child at the wall time. Nothing survives a run.

Isolation is "medium": the program shares the host's kernel, so a kernel bug is a way out that a
Wasm or micro-VM boundary does not have. In exchange it runs native CPython with C extensions.
"""

from __future__ import annotations

import collections
import importlib.util
import math
import os
import platform
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..._paths import cache_dir
from ...bridge.protocol import GuestError, RunOutcome, RunRequest, Stop, ToolChannel
from ...errors import ConfigurationError, SandboxError
from ...policy.limits import Limits
from ...policy.mounts import Mount
from ...policy.outputs import OutputLimits
from ...policy.packages import PackageGrant
from .. import forks
from ..artifacts import OutputsClosedError, collect_outputs, new_output_dir, output_overflow
from ..base import Availability
from ..cleanup import REMOVER
from ..guest.wire import encode_frame
from ..placement import wake_process_near, woken_near
from ..pool_walls import PoolWalls, identity
from ..relay import Relay
from ..relay.process_backend import ProcessBackend
from ..threads import DaemonThreadPool
from .zygote import Child, Zygote

__all__ = ["JailBackend"]

OPEN_FILES = 256
#: Pooled children warm up as a session's run while one of the last this many runs was a
#: session's (and as a plain run's otherwise: the session's part costs 1.5 ms of CPU a child).
SESSION_RUNS = 32


class JailBackend(ProcessBackend):
    """Native CPython in a fresh forked child per program, confined by Landlock and seccomp.

    Args:
        packages: Importable third-party packages the program may use besides the standard
            library (e.g. ``["numpy"]``). They are imported once in the zygote, so their
            import cost is paid once per backend, and only their files are readable.
        pool_size: Children forked and confined ahead of time, each waiting for a run
            with the walls of the runs that come (their limits and file mounts; see
            `sandbox/pool_walls.py`); a run that asks for other walls gets a child of its
            own. 0 forks on demand.
        package_grant: Installed packages (`resolve_packages(..., target="jail")`): their
            tree is bound read-only, readable under Landlock and on sys.path in every run,
            and the requested ones are imported once in the zygote.
    """

    name = "jail"
    isolation = "medium"
    threads = True

    def __init__(
        self,
        *,
        packages: Sequence[str] = (),
        pool_size: int = 2,
        package_grant: PackageGrant | None = None,
    ) -> None:
        if isinstance(packages, str):
            raise ConfigurationError("packages must be a list of module names, e.g. ['numpy']")
        self.packages = tuple(packages)
        self.package_grant = package_grant
        self._sys_path = _package_roots(self.packages)
        self._pool_size = max(0, pool_size)
        self._closed = False
        self._start_process_state()
        forks.track(self)

    def _start_process_state(self) -> None:
        """Its own zygote, pool and threads (at creation, and in a forked child: the
        parent's zygote and pooled children stay the parent's, neither used nor closed)."""
        self._zygote: Zygote | None = None
        self._ready: collections.deque[Child] = collections.deque()  # confined, waiting
        # Children warmed but without walls, for runs whose walls the confined ones do not
        # have: they get theirs with the run (0.6 ms more to bind and confine, against about
        # 10 ms to fork and set up a child from the start). One beside `pool_size` confined
        # children while runs keep to the pool's walls; `pool_size` of them, and no more
        # confined ones made, while runs with other walls come (CodeActs taking turns).
        self._spares: collections.deque[Child] = collections.deque()
        self._since_session = SESSION_RUNS  # runs since the last session's run
        self._lock = threading.Lock()
        self._refill = threading.Event()
        self._threads = DaemonThreadPool("codeact-jail")
        self._filler: threading.Thread | None = None
        # The walls pooled children are confined with: the runs' (see pool_walls.py), the
        # default limits and no mounts until a run comes.
        self._walls = PoolWalls(Walls(_confinement_limits(Limits(), OutputLimits()), ()))

    @classmethod
    def availability(cls) -> Availability:
        from ..guest.jail.landlock import abi_version
        from ..guest.jail.syscalls import current_arch

        if sys.platform != "linux":
            return Availability(False, "the jail needs Linux (Landlock and seccomp)")
        versions = {"python": platform.python_version(), "kernel": platform.release()}
        if current_arch() is None:
            return Availability(
                False, f"the jail supports x86_64 and aarch64, not {platform.machine()}", versions
            )
        if not hasattr(os, "pidfd_open"):
            return Availability(False, "the jail needs Linux 5.3+ (pidfd_open)", versions)
        if not _has_seccomp():
            return Availability(False, "seccomp is not enabled in this kernel", versions)
        abi = abi_version()
        versions["landlock_abi"] = str(abi)
        if abi < 1:
            return Availability(
                False,
                "Landlock is not enabled in this kernel (needs Linux 5.13+ with 'landlock' "
                "in the lsm= boot parameter)",
                versions,
            )
        walls = ["files"] + (["TCP"] if abi >= 4 else []) + (["signals"] if abi >= 6 else [])
        note = f"Landlock ABI {abi} enforces: {', '.join(walls)}"
        if abi < 4:
            note += " (TCP is refused by seccomp only: no sockets can be created)"
        namespaces = _namespaces_problem()
        if namespaces:
            note += f"; mounts and /output are unavailable: {namespaces}"
        return Availability(True, note, versions)

    # -- lifecycle ---------------------------------------------------------------------------
    def prepare(self) -> None:
        """Start the zygote (imports the standard library and the packages) and the pool."""
        with self._lock:
            if self._closed:
                raise RuntimeError("this JailBackend is closed")
            if self._zygote is not None and self._zygote.alive:
                return
            if self._zygote is not None:
                self._zygote.close()  # it died: reap it before starting its successor
                self._zygote = None
            grant = self.package_grant
            imports = self.packages + (grant.imports if grant else ())
            zygote = Zygote(
                packages=imports,
                sys_path=self._sys_path + ([grant.tree] if grant else []),
                root=str(cache_dir("jail-root")),
                trees=[grant.tree] if grant else [],
                modules=grant.modules if grant else (),
            )
            info = zygote.start()
            failed = {p: info["failed"][p] for p in imports if p in info.get("failed", {})}
            if failed:
                zygote.close()
                detail = "; ".join(f"{name}: {why}" for name, why in failed.items())
                raise ConfigurationError(f"the jail could not import its packages: {detail}")
            self._zygote = zygote
            self._discard_pooled()  # children of the zygote that died: they died with it
            if self._pool_size and self._filler is None:
                self._filler = threading.Thread(
                    target=self._fill, name="codeact-jail-pool", daemon=True
                )
                self._filler.start()
            self._refill.set()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._refill.set()
            self._discard_pooled()
            if self._zygote is not None:
                self._zygote.close()
                self._zygote = None
        self._threads.shutdown(wait=False, cancel_futures=True)

    def _discard_pooled(self) -> None:
        for pooled in (self._ready, self._spares):
            while pooled:
                _discard(pooled.popleft())

    def _fill(self) -> None:
        while not self._closed:
            self._refill.wait()
            self._refill.clear()
            while not self._closed and self._pool_size:
                if self._walls.steady:
                    spare = len(self._ready) >= self._pool_size
                    if spare and self._spares:
                        break
                else:
                    spare = True
                    if len(self._spares) >= self._pool_size:
                        break
                zygote = self._zygote
                if zygote is None or not zygote.alive:
                    break
                walls = self._walls.current
                try:
                    child = zygote.fork()
                except SandboxError:
                    break
                # Its empty /output and its walls too, not on the caller's path: mkdtemp
                # takes 0.15-0.4 ms, binding and confining 0.6.
                # The warm-up as a session's run only while sessions' runs come: their state's
                # saving and restoring is about half of its work (1.5 ms of CPU a child).
                warm = "session" if self._since_session < SESSION_RUNS else "plain"
                try:
                    _confine(child, zygote, None if spare else walls, warm=warm)
                except OutputsClosedError:
                    child.close()
                    return  # the process is exiting
                if self._closed:
                    _discard(child)
                    return
                (self._spares if spare else self._ready).append(child)

    def _take(self, walls: Walls) -> Child:
        """A child confined with `walls`: a pooled one if it has them."""
        if self._walls.ask(walls):
            # Pooled children have other walls: refills take this run's.
            while self._ready:
                _discard(self._ready.popleft())
        zygote = self._zygote
        while True:
            try:
                child = self._ready.popleft()
            except IndexError:
                break
            # A pooled child dies with its zygote (PR_SET_PDEATHSIG): check the zygote too.
            # Its walls must be the ones asked for (a refill may have raced a change).
            if (
                child.walls == walls
                and not child.exited.done()
                and zygote is not None
                and zygote.alive
            ):
                return child
            _discard(child)
        while self._spares:
            child = self._spares.popleft()
            if not child.exited.done() and zygote is not None and zygote.alive:
                # Its walls go with its run, once it is placed (see below): sent now, they
                # would wake it wherever it sleeps.
                _confine(child, zygote, walls, warm=False, send=False)
                return child
            _discard(child)
        child, zygote = self._fork()
        _confine(child, zygote, walls, warm=False)  # the caller waits for it
        return child

    def _fork(self) -> tuple[Child, Zygote]:
        for attempt in range(2):
            zygote = self._zygote
            if zygote is None or not zygote.alive:
                self.prepare()  # the zygote died (or was never started): start a new one
                zygote = self._zygote
                assert zygote is not None
            try:
                child = zygote.fork()
            except SandboxError:
                if attempt:
                    raise
                continue  # it died just now; prepare() above replaces it
            return child, zygote
        raise AssertionError("unreachable")

    # -- running -----------------------------------------------------------------------------
    def _is_prepared(self) -> bool:
        return self._zygote is not None

    def _run_blocking(
        self, request: RunRequest, channel: ToolChannel, relay_box: list[Relay]
    ) -> RunOutcome:
        started = time.perf_counter()
        self._since_session = 0 if request.state is not None else self._since_session + 1
        own = self.package_grant
        if request.packages is not None and (own is None or own.key != request.packages.key):
            return RunOutcome(
                error=GuestError(
                    "SandboxError",
                    "this jail was started without the packages granted to the run; create it "
                    "with JailBackend(package_grant=...) or let CodeAct(packages=...) do it",
                )
            )
        child = self._take(
            Walls.of(_confinement_limits(request.limits, request.output_limits), request.mounts)
        )
        output_dir = child.output_dir
        ready = time.perf_counter()
        try:
            relay = Relay(
                sock=child.sock,
                stdout_fd=child.stdout_fd,
                stderr_fd=child.stderr_fd,
                channel=channel,
                limits=request.limits,
                state=request.state,
                kill=child.kill,
                exit_status=child.exit_status,
                watch=_disk_watch(output_dir, request.output_limits) if output_dir else None,
            )
            relay_box.append(relay)
            channel.begin()
            # The child sleeps on its socket: woken on this CPU, not on an idle one (see
            # sandbox/placement.py); the request carries its CPU set, which it sets back
            # before anything else. Only when this thread was woken so (the backend was
            # quiet): with programs back to back or side by side the scheduler spreads them.
            cpus = wake_process_near(child.pid) if woken_near() else None
            if child.unsent:  # a spare's walls
                _send(child, child.unsent)
                child.unsent = b""
            began = time.perf_counter()
            outcome = relay.serve(_run_frame(request, cpus))
            ended = time.perf_counter()
        finally:
            child.close()
            # Refill the pool now, not while the program ran: a new child's setup (namespace,
            # Landlock rules) would compete with it for the CPU.
            self._refill.set()
        if output_dir is not None:
            # A writer faster than the watch's period meets RLIMIT_FSIZE (EFBIG) first: that
            # is the same disk protection, so report it as the same stop.
            efbig = outcome.error is not None and outcome.error.message.startswith("[Errno 27]")
            overflow = _disk_watch(output_dir, request.output_limits)() if efbig else None
            if overflow is not None and outcome.stop is None:
                outcome.stop, outcome.error = overflow, None
            outcome.files, outcome.files_skipped = collect_outputs(
                output_dir, request.output_limits
            )
            child.output_dir = None
            REMOVER.remove_later(output_dir)  # read already; removing it is not the caller's wait
        outcome.timings = {"setup_ms": (ready - started) * 1000, "run_ms": (ended - began) * 1000}
        return outcome


def _discard(child: Child) -> None:
    """Close a child that never ran a program, and remove its unused /output later."""
    child.close()
    if child.output_dir is not None:
        REMOVER.remove_later(child.output_dir)
        child.output_dir = None


def _disk_watch(output_dir: str, limits: OutputLimits) -> Callable[[], Stop | None]:
    """A stop when the program writes far past the output limits (it must not fill the disk)."""

    def watch() -> Stop | None:
        return output_overflow(output_dir, limits)

    return watch


def _confinement_limits(limits: Limits, output_limits: OutputLimits) -> dict[str, int]:
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
    mounts: tuple[tuple[str, str, bool, tuple[int, int] | None], ...]

    @classmethod
    def of(cls, limits: dict[str, int], mounts: Sequence[Mount]) -> Walls:
        return cls(limits, tuple((m.host, m.guest, m.writable, identity(m.host)) for m in mounts))


def _confine(
    child: Child, zygote: Zygote, walls: Walls | None, *, warm: str | bool, send: bool = True
) -> None:
    """Give a child its /output (where the machine allows one) and send it its walls, the
    frame before its run: it confines itself with them, then waits for its run. `warm`: run
    the runner's warm-up first (a pooled child, which has the time). No `walls`: a spare,
    which warms and waits for its walls (this again, with them). `send=False`: leave the
    frame in `child.unsent` for the caller to send. `warm` "plain": the warm-up as a plain
    run's, not a session's."""
    if child.output_dir is None and zygote.info.get("namespaces", False):
        child.output_dir = new_output_dir()
    child.walls = walls
    frame: dict[str, object] = {"warm": warm}
    if walls is not None:
        frame["limits"] = walls.limits
        frame["mounts"] = [[host, guest, writable] for host, guest, writable, _ in walls.mounts]
        frame["output"] = child.output_dir
    if send:
        _send(child, encode_frame(frame))
    else:
        child.unsent = encode_frame(frame)


def _send(child: Child, frame: bytes) -> None:
    try:
        child.sock.sendall(frame)
    except OSError:
        pass  # it is gone already: its exit status says why when the run is served


def _run_frame(request: RunRequest, cpus: list[int] | None) -> dict[str, object]:
    """The second frame: the run itself."""
    return {
        "cpus": cpus,  # the CPU set to give itself back: it was woken pinned (placement.py)
        # A session's state stays here: the child asks for the pieces it needs, which come
        # as raw frames (as its new bytes go back): no base64 and JSON escaping of megabytes.
        "run": request.to_guest_json(raw_state=True, fetch_state=True),
    }


def _package_roots(packages: Sequence[str]) -> list[str]:
    """The sys.path folders the zygote needs to import `packages` from."""
    roots: list[str] = []
    for name in packages:
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigurationError(f"packages: {name!r} is not a module name")
        spec = importlib.util.find_spec(name)
        if spec is None:
            raise ConfigurationError(
                f"packages: {name!r} is not installed in this Python ({sys.executable})"
            )
        location = (
            next(iter(spec.submodule_search_locations or []), None)
            if spec.submodule_search_locations
            else spec.origin
        )
        if not location:
            continue  # a built-in or frozen module: nothing to add
        root = str(Path(location).resolve().parent)
        if root not in roots:
            roots.append(root)
    return roots


def _namespaces_problem() -> str:
    """Why a child could not make its private file tree (mount namespaces), or "" if it can
    as far as the kernel's settings tell; the zygote finds out for sure when it starts."""
    if os.geteuid() == 0:
        return ""
    for path, bad in (
        ("/proc/sys/kernel/unprivileged_userns_clone", "0"),
        ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1"),
        ("/proc/sys/user/max_user_namespaces", "0"),
    ):
        try:
            value = Path(path).read_text().strip()
        except OSError:
            continue
        if value == bad:
            return f"unprivileged user namespaces are off here ({path} = {value})"
    return ""


def _has_seccomp() -> bool:
    try:
        with open("/proc/self/status") as f:
            return any(line.startswith("Seccomp:") for line in f)
    except OSError:
        return False
