"""Floods and stalls: memory, CPU, output, threads, descriptors, and sleeps that try to slip
past the wall time (such as a `time` module imported afresh). Each is stopped by its limit,
the result names that limit, and the host is unaffected."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from codeact import Limits

# Stalls last STALL seconds: far past the 2 s wall time, short enough that a backend thread
# left blocked in one (the wasm backend cannot interrupt a WASI sleep) ends soon after.
STALL = 40
SMALL = Limits(wall_time=2, memory_mb=64, output_bytes=16 * 1024, tool_calls=50)
# Filling 64 MiB takes a guest 0.3 s on a quiet core and 2-4 s on a loaded 2-core machine:
# a memory flood gets the time to reach the memory limit before the wall-time one.
FOR_MEMORY = Limits(wall_time=STALL / 4, memory_mb=64, output_bytes=16 * 1024, tool_calls=50)

# name: (code, the limit that must stop it, or None when the program itself fails cleanly)
RESOURCE_ATTEMPTS: dict[str, tuple[str, str | None]] = {
    "memory_flood": ("x = []\nwhile True:\n    x.append(bytearray(1 << 20))", "memory"),
    "one_huge_allocation": ("x = bytearray(2 ** 31 - 1)", "memory"),
    "memory_flood_of_small_objects": ("x = []\nwhile True:\n    x.append([0] * 1000)", "memory"),
    # The kernel refuses the mapping (OSError ENOMEM) or the module is missing: a clean error.
    "memory_through_mmap": (
        "import mmap\nmaps = []\nwhile True:\n    maps.append(mmap.mmap(-1, 1 << 24))",
        None,
    ),
    "busy_loop": ("while True:\n    pass", "wall_time"),
    "busy_loop_that_catches_everything": (
        "while True:\n    try:\n        while True:\n            pass\n"
        "    except BaseException:\n        pass",
        "wall_time",
    ),
    "sleep_through_a_reimported_time_module": (
        "import sys\ndel sys.modules['time']\nimport time\ntime.sleep(STALL)",
        "wall_time",
    ),
    "blocking_waits": (
        "import threading, select\n"
        "try:\n    select.select([], [], [], STALL)\nexcept Exception:\n    pass\n"
        "threading.Event().wait(STALL)",
        "wall_time",
    ),
    "asyncio_sleep_forever": ("import asyncio\nawait asyncio.sleep(10 ** 6)", "wall_time"),
    "endless_print_flood": ("while True:\n    print('x' * 10000)", "wall_time"),
    "print_flood": ("for i in range(20000):\n    print('x' * 99)\n'finished'", None),
    "raw_output_flood_on_both_streams": (
        "import os\nwhile True:\n    os.write(1, b'y' * 65536)\n    os.write(2, b'z' * 65536)",
        "wall_time",
    ),
    "thread_bomb": (
        "import threading, time\nn = 0\ntry:\n    while n < 100000:\n"
        "        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
        "        n += 1\nfinally:\n    print('threads', n)",
        None,
    ),
    "descriptor_flood": (
        "import os\nfds = []\ntry:\n    while len(fds) < 10 ** 6:\n        fds.extend(os.pipe())\n"
        "finally:\n    print('descriptors', len(fds))",
        None,
    ),
    "deep_recursion_in_python_and_c": (
        "import json\ntry:\n    json.loads('[' * 10 ** 6)\nexcept RecursionError:\n    pass\n"
        "def f(n):\n    return f(n + 1)\nf(0)",
        None,
    ),
    "tool_call_flood": ("while True:\n    echo(value=1)", "tool_calls"),
    "huge_value": ("'v' * (30 * 1024 * 1024)", None),
}


# Waits on the clock that the sandbox's own sleep does not serve: the wasm backend refuses
# them at once (a PermissionError: its host call could not be interrupted at the deadline),
# the others stop them at the wall time.
REFUSED_AT_ONCE = {"sleep_through_a_reimported_time_module", "blocking_waits"}


@pytest.mark.parametrize("name", list(RESOURCE_ATTEMPTS))
async def test_floods_are_stopped_by_their_limit(attempt: Callable[..., Any], name: str) -> None:
    code, limit = RESOURCE_ATTEMPTS[name]
    started = time.monotonic()
    limits = FOR_MEMORY if limit == "memory" else SMALL
    result = await attempt(f"STALL = {STALL}\n{code}", limits=limits)
    elapsed = time.monotonic() - started
    assert elapsed < STALL / 2  # stopped, not waited out
    out_bytes = len(result.stdout.encode()) + len(result.stderr.encode())
    assert out_bytes <= SMALL.output_bytes
    if limit is not None and name in REFUSED_AT_ONCE and result.error is not None:
        refused = result.error.type == "PermissionError" and result.error.limit is None
        assert refused or result.error.limit == limit, result.error
    elif limit is not None:
        assert result.error is not None and result.error.limit == limit, result.error
    if name == "huge_value":
        shown = result.value_repr or ""
        assert len(shown) <= 2 * SMALL.output_bytes
    if name in ("print_flood", "raw_output_flood_on_both_streams"):
        assert result.output_truncated > 0
    if name == "print_flood":
        assert result.ok and result.value == "finished"


# Memory the address-space limit does not count: the bytes of a memfd (RAM, up to the file
# size limit each, 256 descriptors) and pipe buffers grown with F_SETPIPE_SZ.
OUTSIDE_THE_MEMORY_LIMIT = """
import os
held = 0
chunk = b"x" * (1 << 20)
try:
    fd = os.memfd_create("held")
    while held < 200 << 20:
        held += os.write(fd, chunk)
except Exception as e:
    print("memfd", type(e).__name__)
grown = 0
try:
    import fcntl
    r, w = os.pipe()
    grown = fcntl.fcntl(w, 1031, 1 << 20)  # F_SETPIPE_SZ
except Exception as e:
    print("pipe", type(e).__name__)
print("HELD", held >> 20, grown)
"""


async def test_no_memory_is_held_outside_the_memory_limit(attempt: Callable[..., Any]) -> None:
    result = await attempt(OUTSIDE_THE_MEMORY_LIMIT, limits=FOR_MEMORY)
    held = [line.split() for line in result.stdout.splitlines() if line.startswith("HELD")]
    assert held, (result.stdout, result.error)
    megabytes, pipe_size = int(held[0][1]), int(held[0][2])
    assert megabytes <= FOR_MEMORY.memory_mb, result.stdout
    assert pipe_size < 1 << 20, result.stdout


async def test_raw_waits_do_not_hold_host_threads(
    attempt: Callable[..., Any], backend_name: str
) -> None:
    """A program that waits on the clock past its deadline, again and again, must not leave
    a host thread blocked per run (on wasm such a wait was a host call the deadline could not
    end: each run held a thread and its instance's memory for the whole wait)."""
    import asyncio
    import threading

    code = f"STALL = {STALL}\n" + RESOURCE_ATTEMPTS["sleep_through_a_reimported_time_module"][0]
    await attempt("print(1)", limits=SMALL)
    before = threading.active_count()
    for _ in range(6):
        result = await attempt(code, limits=Limits(wall_time=1, memory_mb=64))
        assert not result.ok
    await asyncio.sleep(0.5)  # threads that ended with their runs have exited
    assert threading.active_count() - before <= 2, (backend_name, threading.enumerate())


THREAD_LIMIT = """
import threading, time
started = 0
try:
    while started < 100000:
        threading.Thread(target=time.sleep, args=(5,), daemon=True).start()
        started += 1
except RuntimeError as exc:
    print(started, exc)
"""


async def test_a_refused_thread_says_why_on_each_backend(attempt: Callable[..., Any]) -> None:
    """Where threads run (the jail) and a limit stops the next one, the refusal says so: it
    said that threads were not available at all after seven had started."""
    result = await attempt(THREAD_LIMIT, limits=SMALL)
    started, _, message = result.stdout.strip().partition(" ")
    assert started.isdigit(), (result.stdout, result.error)
    if int(started) == 0:
        assert message.startswith("threads are not available in the sandbox"), message
    else:
        assert "not available" not in message and "limits are reached" in message, message


def _descriptors() -> int:
    """How many descriptors this process has open (0 where there is no /proc)."""
    import os

    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0


FILE_FLOOD = """
import os, time
open('/output/x', 'w').close()
held = []
try:
    while len(held) < 100_000:
        held.append(os.open('/output/x', os.O_RDONLY))
except OSError as exc:
    print('holding', len(held), type(exc).__name__)
time.sleep(1)
"""


# The same, with each batch's folder then renamed deep under /output: past PATH_MAX (4096) a
# descriptor's path cannot be read from /proc, which first let these go uncounted.
LONG_PATH_FLOOD = """
import os, time
deep = '/output/d'
os.mkdir(deep)
while len(deep) < 4085:
    deep += '/' + 'x' * min(240, 4085 - len(deep))
    os.mkdir(deep)
held = []
try:
    for k in range(400):
        os.mkdir(f'/output/a{k}')
        open(f'/output/a{k}/f', 'w').close()
        for _ in range(250):
            held.append(os.open(f'/output/a{k}/f', os.O_RDONLY))
        os.rename(f'/output/a{k}', f'{deep}/a{k}')
except OSError as exc:
    print('holding', len(held), type(exc).__name__)
time.sleep(1)
"""


@pytest.mark.parametrize("flood", ["plain", "long_paths"])
async def test_a_run_holds_a_bounded_number_of_the_hosts_descriptors(
    attempt: Callable[..., Any], backend_name: str, flood: str
) -> None:
    """A wasm guest's files are the host process's own descriptors: a program opening files
    in a loop held 20,000 of them, and every other run of the process (and the host itself)
    failed with "Too many open files". The jail's child has RLIMIT_NOFILE; wasm runs are
    stopped past the same bound."""
    before = _descriptors()
    program = FILE_FLOOD if flood == "plain" else LONG_PATH_FLOOD
    result = await attempt(program, limits=Limits(wall_time=20))
    if backend_name == "jail":
        count = int(result.stdout.split()[1])
        assert count <= 256 and "OSError" in result.stdout, result.stdout
    elif backend_name == "wasm":
        assert result.error is not None and result.error.limit == "open_files", result.error
        assert "more than the 256 a run may" in result.error.message
        if before:
            assert _descriptors() < before + 1024  # never near the limit
