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
