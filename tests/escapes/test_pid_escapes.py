"""Another process's pid, asked about: the seccomp filter refused getpriority and kill on other
pids but answered getsid, getpgid and the scheduler's getters about any, so a program listed
185 host pids (ESRCH for the others) with their sessions, groups, CPUs and policies.
Jail-only: the other backends have no ctypes and no pids of the host's to ask about."""

from __future__ import annotations

from typing import Any

import pytest

PROBE = """
import fcntl, os
host = os.getppid()  # the zygote: a process of the host's, surely there
for name, call in (
    ("getsid", lambda pid: os.getsid(pid)),
    ("getpgid", lambda pid: os.getpgid(pid)),
    ("sched_getaffinity", lambda pid: os.sched_getaffinity(pid)),
    ("sched_getparam", lambda pid: os.sched_getparam(pid)),
    ("sched_getscheduler", lambda pid: os.sched_getscheduler(pid)),
    ("sched_rr_get_interval", lambda pid: os.sched_rr_get_interval(pid)),
):
    answers = []
    for pid in (1, host, 4_000_000):  # init, the zygote, surely no process
        try:
            call(pid)
            answers.append("answered")
        except OSError as exc:
            answers.append(exc.errno)
    print(name, *answers, "own", call(0) is not None, call(os.getpid()) is not None)
r, w = os.pipe()
try:
    fcntl.fcntl(r, fcntl.F_SETOWN, host)
    print("F_SETOWN answered")
except OSError as exc:
    print("F_SETOWN", exc.errno)
print("cpus", len(os.sched_getaffinity(0)) > 0, os.getpgid(0) == os.getpgrp())
"""


async def test_nothing_is_learnt_about_another_pid(attempt: Any, backend_name: str) -> None:
    if backend_name != "jail":
        pytest.skip(f"{backend_name} has no pids of the host's to ask about")
    result = await attempt(PROBE)
    lines = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()}
    for name in (
        "getsid",
        "getpgid",
        "sched_getaffinity",
        "sched_getparam",
        "sched_getscheduler",
        "sched_rr_get_interval",
    ):
        # EPERM alike for a process that exists and one that does not: nothing tells them
        # apart. About itself (0, its own pid) each still answers.
        assert lines[name] == ["1", "1", "1", "own", "True", "True"], result.stdout
    assert lines["F_SETOWN"] == ["1"], result.stdout
    assert lines["cpus"] == ["True", "True"], result.stdout


CLOCK_PROBE = """
import asyncio, os, sys, threading, time
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "ImportPolicy"]
import ctypes  # raw calls: no Python check runs, each answer is the kernel's (or seccomp's)
host = os.getppid()  # the zygote: a process of the host's, surely there
libc = ctypes.CDLL(None, use_errno=True)
class Timespec(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_long), ("nsec", ctypes.c_long)]
def nanosleep(clock):  # until a time long past (TIMER_ABSTIME); it returns its error
    err = libc.clock_nanosleep(clock, 1, ctypes.byref(Timespec(0, 0)), None)
    if err:
        raise OSError(err, os.strerror(err))
def cpu_clock(pid, kind):  # a process's CPU clock for kind 0-2, a thread's for 4-6
    return ((~pid) << 3) | kind
for name, call in (
    ("clock_gettime", time.clock_gettime),
    ("clock_getres", time.clock_getres),
    ("clock_nanosleep", nanosleep),
):
    answers = []
    for pid, kind in ((1, 2), (host, 2), (host, 0), (4_000_000, 2), (host, 6)):
        try:
            call(cpu_clock(pid, kind))
            answers.append("answered")
        except OSError as exc:
            answers.append(exc.errno)
    for pid in (0, os.getpid()):  # its own CPU clocks: an OSError here fails the program
        for kind in (0, 1, 2):
            call(cpu_clock(pid, kind))
    print(name, *answers, "own", "True")
seen = []
def worker():
    clock = time.pthread_getcpuclockid(threading.get_ident())
    seen.append(time.clock_gettime(clock) >= 0 and time.thread_time() >= 0)
thread = threading.Thread(target=worker)
thread.start()
thread.join()
main = time.clock_gettime(time.pthread_getcpuclockid(threading.get_ident())) >= 0
start = time.monotonic()
time.sleep(0.01)
asyncio.run(asyncio.sleep(0.01))
slept = time.monotonic() - start >= 0.02 and time.perf_counter() > 0 and time.time() > 0
print("python", time.process_time() > 0, seen == [True], main, slept)
"""


async def test_no_cpu_clock_of_another_process(attempt: Any, backend_name: str) -> None:
    """``time.clock_gettime(((~pid) << 3) | 2)``, another process's CPU clock, answered for
    every pid of the host (EINVAL for none): a program listed the host's 58 processes and
    read the host process's CPU time. Now EINVAL alike for all of them, while its own CPU
    clocks, its threads' and Python's clocks and sleeps still work."""
    if backend_name != "jail":
        pytest.skip(f"{backend_name} has no pids of the host's to ask about")
    result = await attempt(CLOCK_PROBE)
    lines = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()}
    for name in ("clock_gettime", "clock_getres", "clock_nanosleep"):
        # EINVAL (22) for init, the zygote (its process clocks, and its main thread's, which
        # the kernel itself refuses) and a pid that does not exist: nothing tells them apart.
        assert lines[name] == ["22", "22", "22", "22", "22", "own", "True"], result.stdout
    assert lines["python"] == ["True", "True", "True", "True"], result.stdout


RAW_PROBE = """
import os, platform, sys
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "ImportPolicy"]
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
FUTEX = {"x86_64": 202, "aarch64": 98}[platform.machine()]
host = os.getppid()  # the zygote: a process of the host's, surely there
class Timespec(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_long), ("nsec", ctypes.c_long)]
def errno_of(result):
    return ctypes.get_errno() if result else 0
pi = []
for owner in (1, host, 4_000_000):  # the tid a PI futex's word names as its owner
    word = ctypes.c_uint32(owner)
    pi.append(errno_of(libc.syscall(FUTEX, ctypes.byref(word), 8 | 128, 0, None, 0, 0)))
    past = ctypes.byref(Timespec(0, 0))
    pi.append(errno_of(libc.syscall(FUTEX, ctypes.byref(word), 6 | 128, 0, past, 0, 0)))
print("futex_pi", *pi)
word = ctypes.c_uint32(0)
print("futex_wake", libc.syscall(FUTEX, ctypes.byref(word), 1 | 128, 1, None, 0, 0))
cookie = ctypes.c_ulong()
core = [errno_of(libc.prctl(62, 0, pid, 0, ctypes.byref(cookie))) for pid in (1, host, 4_000_000)]
print("sched_core", *core)
"""


async def test_no_futex_or_prctl_looks_up_another_pid(attempt: Any, backend_name: str) -> None:
    """A priority-inheritance futex names its owner by a tid the kernel looks up among all of
    the host's: FUTEX_TRYLOCK_PI and FUTEX_LOCK_PI answered EPERM for init and the zygote and
    ESRCH for a pid that does not exist. prctl(PR_SCHED_CORE, GET, pid) answers ESRCH for no
    such pid on kernels with core scheduling. Both refused now, whatever the pid."""
    if backend_name != "jail":
        pytest.skip(f"{backend_name} has no pids of the host's to ask about")
    result = await attempt(RAW_PROBE)
    lines = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()}
    assert lines["futex_pi"] == ["38"] * 6, result.stdout  # ENOSYS alike: no PI futexes
    assert lines["futex_wake"] == ["0"], result.stdout  # the futex calls of locks stay
    assert lines["sched_core"] == ["1"] * 3, result.stdout  # EPERM alike
