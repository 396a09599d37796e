"""One run in a child forked from the zygote: detach, confine, read the request, run, report.

Two frames come from the host: the walls (limits, mounts, /output), then the run. A pooled
child gets the first when it is forked and is confined while it waits for the second, so a
run's request meets a child whose walls are all up already; the host sends a run only to a
child confined exactly as that run asks. Nothing of the program runs before every wall is up:
any failure while setting up ends the child (after telling the host why), never falls through
to running the code.
"""

from __future__ import annotations

import errno
import fcntl
import os
import random
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, NoReturn

from .. import wire
from . import confine, glue, landlock, readonly, rootfs, seccomp

__all__ = ["ImportPolicy", "Setup", "run"]

_CHANNEL_FD = 3


@dataclass
class Setup:
    """What the zygote prepared once for all its children."""

    zygote_pid: int
    runner: ModuleType
    path_fds: list[int]
    read_rules: landlock.ReadRules  # Landlock's rules for `path_fds`, encoded once
    allowed_modules: frozenset[str]
    denied_modules: Mapping[str, str]
    packages: tuple[str, ...]
    landlock_abi: int
    last_cap: int
    stdlib_paths: frozenset[str]
    root: str  # where the child builds its file tree; "" when namespaces are not allowed
    root_problem: str
    stdlib: tuple[str, ...]
    hidden: tuple[str, ...]
    packages_paths: tuple[str, ...]


class ImportPolicy:
    """First entry of ``sys.meta_path``: a clear error for modules the sandbox does not offer.

    This is a courtesy, not a wall: a program can remove it, and then meets Landlock, which
    refuses to read the files of any package that was not granted.
    """

    def __init__(
        self, allowed: frozenset[str], denied: Mapping[str, str], packages: tuple[str, ...]
    ):
        self.allowed = allowed
        self.denied = denied
        self.packages = packages

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        top = name.partition(".")[0]
        if top in self.denied:
            raise ModuleNotFoundError(
                f"No module named {name!r} in the sandbox: {self.denied[top]}", name=name
            )
        if top not in self.allowed:
            extra = ", ".join(self.packages) if self.packages else "none"
            raise ModuleNotFoundError(
                f"No module named {name!r} in the sandbox; it offers the standard library and "
                f"these packages: {extra}",
                name=name,
            )

    def invalidate_caches(self) -> None:
        pass


_KEPT: list[object] = []


def _hide_internals(setup: Setup) -> None:
    # What is hidden stays referenced in _KEPT: freeing it would write to (and so copy) many
    # memory pages shared with the zygote, for nothing, since the child is about to end.
    for name in list(sys.modules):
        top = name.partition(".")[0]
        if top in setup.denied_modules or top == "_codeact_guest":
            _KEPT.append(sys.modules.pop(name))
    sys.meta_path.insert(
        0, ImportPolicy(setup.allowed_modules, setup.denied_modules, setup.packages)
    )
    # Keep the standard library's cached folder listings (the program cannot list those
    # folders itself, and imports need them); forget every other folder's.
    for path in list(sys.path_importer_cache):
        if path not in setup.stdlib_paths:
            _KEPT.append(sys.path_importer_cache.pop(path))
    sys.argv = [""]
    # The C library's system() reports a refused fork as exit status 127, which reads like a
    # missing command; say what happened instead. (The wall is seccomp, not this.)
    os.system = _no_processes


def _no_processes(*args: object, **kwargs: object) -> NoReturn:
    raise PermissionError(errno.EPERM, "the sandbox cannot start processes")


def run(setup: Setup, *, channel_fd: int, stdout_fd: int, stderr_fd: int) -> NoReturn:
    """The child's whole life; ends with ``os._exit``. Everything that does not depend on the
    program, its walls included, happens before its request arrives (a pooled child waits
    there)."""
    status = 70
    sock: socket.socket | None = None
    stage = "the sandbox could not be set up"
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()  # its own session and process group: kill(0, ...) reaches only itself
        confine.die_with_parent(setup.zygote_pid)
        # Move the three descriptors above every other before putting them in place, so that
        # no dup2 below closes one still needed.
        floor = max([_CHANNEL_FD, *setup.path_fds]) + 1
        moved = [fcntl.fcntl(fd, fcntl.F_DUPFD, floor) for fd in (channel_fd, stdout_fd, stderr_fd)]
        os.dup2(moved[1], 1)
        os.dup2(moved[2], 2)
        os.dup2(moved[0], _CHANNEL_FD)
        confine.close_other_fds({0, 1, 2, _CHANNEL_FD, *setup.path_fds})
        os.environ.clear()
        random.seed()  # the zygote's generator state is shared by every child: reseed
        waiting_filter, lock_filter = confine.seccomp_programs()
        measures = confine.Measures.now()
        ruleset = setup.read_rules.ruleset()
        if setup.root:
            rootfs.prepare_root(
                setup.root, stdlib=setup.stdlib, hidden=setup.hidden, packages=setup.packages_paths
            )
        sock = socket.socket(fileno=_CHANNEL_FD)
        walls = wire.read_frame(sock)  # sent when the child is forked
        if walls.get("warm"):
            # A pooled child runs our own warm-up program, against a host that refuses
            # everything: its first touches of memory copy the pages shared with the zygote
            # (about 90 faults, ~0.5 ms) while it waits instead of after its request. A child
            # forked for a run that waits for it does not: that would only move those faults
            # before the run, and add the warm-up's own work (~3 ms of CPU). "plain": not as
            # a session's run (the host asks for that while the runs are not sessions').
            setup.runner.warm_up(session=walls["warm"] != "plain")
        # Then the real host, and the internals hidden: none of it depends on the request, and
        # no program of the user's has run.
        host = glue.JailHost(sock)
        setup.runner.install(host)
        _hide_internals(setup)
        confine.tighten_umask()
        # The large part of the seccomp filter, with the setup's calls still allowed: no
        # program runs before `confine` stacks the part that refuses them.
        seccomp.install(waiting_filter)
        if "limits" not in walls:  # a spare, pooled without walls: they come with its run
            walls = wire.read_frame(sock)
        _grant_files(setup, walls, ruleset)
        confine.confine(
            confine.Confinement(**walls["limits"]),
            measures,
            ruleset_fd=ruleset,
            landlock_abi=setup.landlock_abi,
            last_cap=setup.last_cap,
            program=lock_filter,
        )
        for fd in (*setup.path_fds, ruleset):
            os.close(fd)
        stage = "the sandbox could not read its request"
        request = wire.read_frame(sock)  # a pooled child waits here, confined
        if request["cpus"] is not None:  # woken pinned to the sender's CPU: not the program
            try:
                os.sched_setaffinity(0, request["cpus"])
            except OSError:  # a cpuset changed under us: it stays where it was woken
                pass
        stage = "the sandbox's runner failed"
        report = setup.runner.run(request["run"])
        host.report(report)
        status = 0
    except BaseException as exc:
        if sock is not None:
            try:
                wire.write_frame(sock, ["x", f"{stage}: {type(exc).__name__}: {exc}"])
            except BaseException:
                pass
    finally:
        os._exit(status)


def _grant_files(setup: Setup, walls: dict[str, object], ruleset: int) -> None:
    """This run's /output and mounts: bound at their sandbox paths, allowed by Landlock."""
    mounts = [(str(h), str(g), bool(w)) for h, g, w in walls.get("mounts") or []]  # type: ignore[attr-defined]
    output = walls.get("output")
    if not setup.root:
        if mounts or output:
            raise OSError(
                "file mounts and /output need a private mount namespace, which this machine "
                f"does not allow ({setup.root_problem})"
            )
        return
    binds = [(h, g, w) for h, g, w in mounts]
    # Read-only mounts are read-only in the kernel (MS_RDONLY): no write, metadata or chattr
    # change reaches the host file, even from ctypes; Landlock refuses on top. Granted
    # folders are bound exactly (no link followed on their paths); /output is our own.
    rootfs.bind(setup.root, binds, exact=True)
    if output:
        binds.append((str(output), "/output", True))
        rootfs.bind(setup.root, binds[-1:])
    rootfs.enter(setup.root)
    readonly.install([(g, w) for _, g, w in binds])  # PermissionError, as on every backend
    landlock.add_rules(
        ruleset,
        read=[g for _, g, w in binds if not w],
        write=[g for _, g, w in binds if w],
        abi=setup.landlock_abi,
    )
