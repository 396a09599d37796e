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

import importlib.util
import os
import platform
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from ..._paths import cache_dir
from ...bridge.protocol import GuestError, RunOutcome, RunRequest, ToolChannel
from ...errors import ConfigurationError
from ...policy.packages import PackageGrant
from .. import forks
from ..artifacts import collect_outputs
from ..base import Availability
from ..cleanup import REMOVER
from ..placement import wake_process_near, woken_near
from ..relay import Relay
from ..relay.process_backend import ProcessBackend
from ..threads import DaemonThreadPool
from . import cgroup
from .disk_watch import DiskWatch
from .pool import ChildPool, Walls, confinement_limits, send_frame
from .zygote import Zygote

__all__ = ["JailBackend"]


class JailBackend(ProcessBackend):
    """Native CPython in a fresh forked child per program, confined by Landlock and seccomp.

    Args:
        packages: Importable third-party packages the program may use besides the standard
            library (e.g. ``["numpy"]``). They are imported once in the zygote, so their
            import cost is paid once per backend, and only their files are readable.
        pool_size: Children forked and confined ahead of time, each waiting for a run
            with the walls of the runs that come (their limits and file mounts; see
            `jail/pool.py`); a run that asks for other walls gets a spare or a child of its
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
        self._pool = ChildPool(self._pool_size, lambda: self._zygote, self._live_zygote)
        self._lock = threading.Lock()
        self._threads = DaemonThreadPool("codeact-jail")

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
        tasks = cgroup.problem()
        if tasks and os.geteuid() == 0:  # RLIMIT_NPROC bounds other users' threads
            note += f"; a run's threads are bounded by its memory limit only: {tasks}"
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
            self._pool.discard_all()  # children of the zygote that died: they died with it
            self._pool.start()

    def _live_zygote(self) -> Zygote:
        """A running zygote: this one, or a new one if it died (or was never started)."""
        zygote = self._zygote
        if zygote is None or not zygote.alive:
            self.prepare()
            zygote = self._zygote
            assert zygote is not None
        return zygote

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._pool.close()
            if self._zygote is not None:
                self._zygote.close()
                self._zygote = None
        self._threads.shutdown(wait=False, cancel_futures=True)

    # -- running -----------------------------------------------------------------------------
    def _is_prepared(self) -> bool:
        return self._zygote is not None

    def _jail_root(self) -> str:
        """The folder the children take as their root ("" before a zygote started)."""
        zygote = self._zygote
        return zygote.root if zygote is not None else ""

    def _run_blocking(
        self, request: RunRequest, channel: ToolChannel, relay_box: list[Relay]
    ) -> RunOutcome:
        started = time.perf_counter()
        own = self.package_grant
        if request.packages is not None and (own is None or own.key != request.packages.key):
            return RunOutcome(
                error=GuestError(
                    "SandboxError",
                    "this jail was started without the packages granted to the run; create it "
                    "with JailBackend(package_grant=...) or let CodeAct(packages=...) do it",
                )
            )
        walls = Walls.of(confinement_limits(request.limits, request.output_limits), request.mounts)
        child = self._pool.take(walls, session=request.state is not None)
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
                watch=(
                    DiskWatch(output_dir, request.output_limits, child.pid, self._jail_root())
                    if output_dir
                    else None
                ),
            )
            relay_box.append(relay)
            channel.begin()
            # Its threads and signal handlers could compute while a call waits for a person,
            # on a clock that stands still: the child is stopped meanwhile.
            channel.freeze_with(child.freeze)
            # The child sleeps on its socket: woken on this CPU, not on an idle one (see
            # sandbox/placement.py); the request carries its CPU set, which it sets back
            # before anything else. Only when this thread was woken so (the backend was
            # quiet): with programs back to back or side by side the scheduler spreads them.
            cpus = wake_process_near(child.pid) if woken_near() else None
            if child.unsent:  # a spare's walls
                send_frame(child, child.unsent)
                child.unsent = b""
            began = time.perf_counter()
            outcome = relay.serve(_run_frame(request, cpus))
            ended = time.perf_counter()
        finally:
            channel.freeze_with(None)  # before its pidfd is closed: no signal after that
            child.close()
            # Refill the pool now, not while the program ran: a new child's setup (namespace,
            # Landlock rules) would compete with it for the CPU.
            self._pool.refill()
        if output_dir is not None:
            # A writer faster than the watch's period meets RLIMIT_FSIZE (EFBIG) first: that
            # is the same disk protection, so report it as the same stop.
            efbig = outcome.error is not None and outcome.error.message.startswith("[Errno 27]")
            overflow = DiskWatch(output_dir, request.output_limits).count() if efbig else None
            if overflow is not None and outcome.stop is None:
                outcome.stop, outcome.error = overflow, None
            outcome.files, outcome.files_skipped = collect_outputs(
                output_dir, request.output_limits
            )
            child.output_dir = None
            REMOVER.remove_later(output_dir)  # read already; removing it is not the caller's wait
        outcome.timings = {"setup_ms": (ready - started) * 1000, "run_ms": (ended - began) * 1000}
        return outcome


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
                f"packages: {name!r} is not installed in this Python ({sys.executable}); "
                "JailBackend(packages=...) shares modules this Python has: pip install it "
                f"here, or let codeact fetch it: CodeAct(backend='jail', packages=[{name!r}])"
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
