"""Confine the calling process before it runs untrusted code: limits, privileges, file system,
system calls. Each step is irreversible; together they are the jail's walls.

Order matters: resource limits first, capabilities next (so hard limits cannot be raised back),
then Landlock and seccomp (seccomp last, since it refuses calls the earlier steps use, such as
the mounts that build the child's file tree). /proc is read before any of it, while the child
still sees it.

The seccomp filter comes in two parts (`seccomp_programs`): the large one, with the setup's own
calls still allowed, is attached before the child's walls arrive (the kernel takes about 0.5 ms
to check and compile it); `confine` stacks a small one on it, last, that refuses those setup
calls. Together they answer every call as the single filter would.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import struct
from collections.abc import Callable
from dataclasses import dataclass

from . import landlock, seccomp
from .syscalls import SYSCALLS, current_arch

__all__ = [
    "Confinement",
    "Measures",
    "PidFilter",
    "close_other_fds",
    "confine",
    "die_with_parent",
    "seccomp_programs",
    "tighten_umask",
]

_PR_SET_PDEATHSIG = 1
_PR_CAPBSET_DROP = 24
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_CAPABILITY_VERSION_3 = 0x20080522
_THREADS = 64  # new threads a program may start (where the kernel applies RLIMIT_NPROC)
_SIGNALS = 64  # signals queued (RLIMIT_SIGPENDING), counted over the whole user


@dataclass(frozen=True)
class Confinement:
    """The limits of one run, as the host asked for them."""

    memory_bytes: int
    cpu_seconds: int
    file_bytes: int
    open_files: int


# One handle with its functions resolved, made when the zygote imports this module and
# inherited by every child: made in the child, after its request, it cost about 0.1 ms.
_LIBC = ctypes.CDLL(None, use_errno=True)
for _name in ("prctl", "capset", "syscall"):
    getattr(_LIBC, _name)
_CLOSE_RANGE = SYSCALLS.get(current_arch() or "", {}).get("close_range")


def _libc() -> ctypes.CDLL:
    return _LIBC


def die_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when the zygote dies (and so when the host does)."""
    _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the zygote died before the request above took effect
        os._exit(1)


def close_other_fds(keep: set[int]) -> None:
    """Close every descriptor not in `keep`: each range between them in one close_range()
    call (Linux 5.9+; listing /proc/self/fd instead took a child 0.5 ms of CPU), or, where
    the kernel refuses it, what the listing shows open in that range."""
    low = 0
    for end in [*sorted(keep), 1 << 32]:  # close_range's last is inclusive: end - 1
        if end <= low:
            low = max(low, end + 1)
            continue
        last = ctypes.c_uint(min(end - 1, (1 << 32) - 1))
        if _CLOSE_RANGE is None or _LIBC.syscall(_CLOSE_RANGE, ctypes.c_uint(low), last, 0):
            for entry in os.listdir("/proc/self/fd"):
                if low <= int(entry) < end:
                    try:
                        os.close(int(entry))
                    except OSError:
                        pass  # the descriptor of the listing itself, already gone
        low = end + 1


def _vm_size() -> int:
    with open("/proc/self/statm", "rb") as f:
        pages = int(f.read().split()[0])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _tasks_on_machine() -> int:
    with open("/proc/loadavg", "rb") as f:
        return int(f.read().split()[3].split(b"/")[1])


@dataclass(frozen=True)
class Measures:
    """What the limits are computed from, read from /proc before the child loses it."""

    vm_size: int
    tasks: int

    @classmethod
    def now(cls) -> Measures:
        return cls(vm_size=_vm_size(), tasks=_tasks_on_machine())


def set_limits(limits: Confinement, measures: Measures) -> None:
    """Hard resource limits. Memory is the address space the program may add on top of the
    interpreter it starts from; CPU time is a backstop (the host kills at the wall time)."""
    base = measures.vm_size
    caps = [
        (resource.RLIMIT_AS, base + limits.memory_bytes, 0),
        # Soft below hard: the kernel sends SIGXCPU (which the host reports as time) first.
        (resource.RLIMIT_CPU, limits.cpu_seconds, 1),
        (resource.RLIMIT_FSIZE, limits.file_bytes, 0),
        (resource.RLIMIT_NOFILE, limits.open_files, 0),
        (resource.RLIMIT_CORE, 0, 0),
        (resource.RLIMIT_MEMLOCK, 0, 0),
        (resource.RLIMIT_MSGQUEUE, 0, 0),
        # Signals queued and POSIX timers are counted per user, the host's included: without a
        # small limit a program could use up its user's whole allowance (the host's `timeout`
        # then fails with EAGAIN). The check is the user's count against the child's limit.
        (resource.RLIMIT_SIGPENDING, _SIGNALS, 0),
        # RLIMIT_NPROC counts every task of the user, so it can only bound growth: what runs
        # now plus a margin. The kernel ignores it for root: there the zygote's cgroup (its
        # `pids.max`, host side: jail/cgroup.py) bounds threads, where one could be made.
        (resource.RLIMIT_NPROC, measures.tasks + _THREADS, 0),
    ]
    for which, soft, extra in caps:
        hard = soft + extra
        _, old_hard = resource.getrlimit(which)
        if old_hard != resource.RLIM_INFINITY:
            hard = min(hard, old_hard)
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_capabilities(last_cap: int) -> None:
    """Give up every capability (root keeps its uid but loses its powers, e.g. raising hard
    limits, signalling any process, or ignoring file permissions)."""
    libc = _libc()
    if os.geteuid() == 0:
        for cap in range(last_cap + 1):
            libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"capset failed: {os.strerror(err)}")


class PidFilter:
    """A filter whose rules name a pid, built once and given each process's own pid.

    `build(pid)` runs twice, for two stand-in pids; the instructions that differ between the
    two programs are exactly the comparisons against the pid (nothing else in a program
    depends on it), and `for_pid` writes a pid into those. Building the jail's filters in
    Python took a child 0.75 ms of CPU; copying and patching takes microseconds.
    """

    _STAND_INS = (0x7FFF_FFF1, 0x7FFF_FFF2)  # above any pid the kernel gives (4,194,304 at most)

    def __init__(self, build: Callable[[int], bytes]) -> None:
        first, second = (build(pid) for pid in self._STAND_INS)
        if len(first) != len(second) or len(first) % 8:
            raise ValueError("the filter's length depends on the pid")
        self._program = first
        self._slots: list[int] = []  # byte offsets of the `k` fields that hold the pid
        for at in range(0, len(first), 8):
            if first[at : at + 8] == second[at : at + 8]:
                continue
            ks = (first[at + 4 : at + 8], second[at + 4 : at + 8])
            if first[at : at + 4] != second[at : at + 4] or ks != tuple(
                struct.pack("=I", pid) for pid in self._STAND_INS
            ):
                raise ValueError("the filter depends on the pid other than by comparing it")
            self._slots.append(at + 4)

    def for_pid(self, pid: int) -> bytes:
        program = bytearray(self._program)
        for at in self._slots:
            struct.pack_into("=I", program, at, pid)
        return bytes(program)


def _filters(arch: str) -> tuple[PidFilter, PidFilter]:
    return (
        PidFilter(lambda pid: seccomp.waiting_filter(arch, seccomp.rules_for(pid))),
        PidFilter(lambda pid: seccomp.lock_filter(arch, seccomp.rules_for(pid))),
    )


_FILTERS: dict[str, tuple[PidFilter, PidFilter]] = {}


def seccomp_programs() -> tuple[bytes, bytes]:
    """The two parts of this process's filter (its rules name its own pid), built ahead of
    time: the one to install while waiting for the request, and the one `confine` stacks
    on it (`seccomp.waiting_filter`, `seccomp.lock_filter`). The zygote calls this once, so
    that its children inherit the built programs and only patch in their pid."""
    arch = current_arch()
    if arch is None:
        raise OSError("the jail supports x86_64 and aarch64 only")
    if arch not in _FILTERS:
        _FILTERS[arch] = _filters(arch)
    waiting, lock = _FILTERS[arch]
    pid = os.getpid()
    return waiting.for_pid(pid), lock.for_pid(pid)


def tighten_umask() -> None:
    """Nothing the program creates is writable by other users, whatever the host's umask;
    seccomp refuses umask() from then on (a file left in a read-write mount outlives the
    run). Called before the waiting filter, which already refuses it."""
    os.umask(os.umask(0o022) | 0o022)


def confine(
    limits: Confinement,
    measures: Measures,
    *,
    ruleset_fd: int,
    landlock_abi: int,
    last_cap: int,
    program: bytes,
) -> landlock.Enforced:
    """Apply the walls, last step first to fail: limits, no capabilities, Landlock (the
    ruleset is complete by now), seccomp (`program`: the lock stacked on the waiting filter
    the child installed before its request). Irreversible; raises if any step fails."""
    set_limits(limits, measures)
    drop_capabilities(last_cap)
    enforced = landlock.enforce(ruleset_fd, landlock_abi)
    seccomp.install(program)
    return enforced
