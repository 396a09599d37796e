"""What is particular to the jail: packages, a fresh interpreter state per run, the zygote's
recovery, and what the host reports when a child ends without a report."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeact import CodeAct, ConfigurationError, Limits
from codeact.sandbox.jail import JailBackend

availability = JailBackend.availability()
pytestmark = pytest.mark.skipif(not availability.available, reason=f"jail: {availability.reason}")


@pytest.fixture(scope="module")
def jail() -> Iterator[JailBackend]:
    backend = JailBackend(pool_size=1)
    backend.prepare()
    yield backend
    backend.close()


@pytest.fixture
def codeact(jail: JailBackend) -> CodeAct:
    return CodeAct(backend=jail, limits=Limits(wall_time=10))


def _children_of(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def test_availability_reports_what_landlock_enforces() -> None:
    assert availability.reason.startswith("Landlock ABI ")
    assert int(availability.versions["landlock_abi"]) >= 1


async def test_environment_is_empty_and_randomness_is_fresh(codeact: CodeAct) -> None:
    first = await codeact.execute("import os, random\n[dict(os.environ), random.random()]")
    second = await codeact.execute("import random\nrandom.random()")
    assert first.ok and first.value[0] == {}
    assert first.value[1] != second.value  # each child reseeds the generator it inherited


async def test_only_the_standard_library_by_default(codeact: CodeAct) -> None:
    result = await codeact.execute("import statistics, sqlite3, decimal\nstatistics.mean([1, 2])")
    assert result.ok and result.value == 1.5
    refused = await codeact.execute("import numpy")
    assert refused.error is not None and "standard library" in refused.error.message


@pytest.mark.skipif(importlib.util.find_spec("numpy") is None, reason="numpy is not installed")
async def test_granted_packages_work_and_nothing_else_of_site_packages() -> None:
    backend = JailBackend(packages=["numpy"], pool_size=0)
    try:
        codeact = CodeAct(backend=backend, limits=Limits(wall_time=20))
        result = await codeact.execute(
            "import numpy as np\nround(float(np.linalg.det(np.eye(3) * 2)))"
        )
        assert result.ok and result.value == 8, result.error
        other = await codeact.execute("import pydantic")
        assert other.error is not None and "numpy" in other.error.message
        # Not even with the import policy out of the way: Landlock refuses the files.
        bypass = await codeact.execute(
            "import sys\nsys.meta_path.pop(0)\nimport pydantic\npydantic.VERSION"
        )
        assert not bypass.ok
    finally:
        backend.close()


def test_unknown_packages_are_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="not installed") as missing:
        JailBackend(packages=["no_such_package_anywhere"])
    # the fix, not only the fault: JailBackend shares this Python's modules; CodeAct fetches
    assert "CodeAct(backend='jail', packages=['no_such_package_anywhere'])" in str(missing.value)
    with pytest.raises(ConfigurationError, match="list of module names"):
        JailBackend(packages="numpy")  # a str passes as a Sequence[str]: refused when it runs


async def test_a_killed_zygote_is_replaced(jail: JailBackend, codeact: CodeAct) -> None:
    zygote = jail._zygote
    assert zygote is not None
    os.kill(zygote.info["pid"], signal.SIGKILL)
    for _ in range(100):  # the kernel needs a moment to end it
        if not zygote.alive:
            break
        await asyncio.sleep(0.02)
    result = await codeact.execute("print('after')")
    assert result.ok and result.stdout == "after\n"
    assert jail._zygote is not None and jail._zygote.info["pid"] != zygote.info["pid"]


async def test_no_child_outlives_its_run(jail: JailBackend, codeact: CodeAct) -> None:
    stopped = await codeact.execute("while True:\n    pass", limits=Limits(wall_time=0.5))
    assert stopped.error is not None and stopped.error.limit == "wall_time"
    await codeact.execute(
        "import threading, time\nthreading.Thread(target=time.sleep, args=(60,)).start()"
    )
    assert jail._zygote is not None
    # Only the pooled child and the spare, waiting for their runs, may remain (once the
    # zygote has reaped the killed ones, which takes a moment).
    pooled = {c.pid for c in [*jail._pool._ready, *jail._pool._spares]}
    assert len(pooled) <= 2
    for _ in range(100):
        if set(_children_of(jail._zygote.info["pid"])) <= pooled:
            break
        await asyncio.sleep(0.05)
        pooled = {c.pid for c in [*jail._pool._ready, *jail._pool._spares]}
    assert set(_children_of(jail._zygote.info["pid"])) <= pooled


@pytest.mark.parametrize(
    ("code", "kind", "words"),
    [
        ("import os\nprint('bye')\nos._exit(0)", None, ""),
        ("import os\nos._exit(3)", "SystemExit", "exit status 3"),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)", "Killed", "SIGTERM"),
        (
            "import os\nfor fd in (1, 2, 3):\n    os.close(fd)\nwhile True:\n    pass",
            "SandboxError",
            "closed its channel",
        ),
    ],
    ids=["exit-0", "exit-3", "sigterm", "closed-channel"],
)
async def test_a_child_that_ends_without_a_report_is_explained(
    codeact: CodeAct, code: str, kind: str | None, words: str
) -> None:
    result = await codeact.execute(code)
    if kind is None:
        assert result.ok and result.stdout == "bye\n"
    else:
        assert result.error is not None and result.error.type == kind
        assert words in result.error.message
    assert (await codeact.execute("1 + 1")).value == 2


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to tell pinned")
async def test_a_program_runs_with_every_cpu_the_host_may_use(
    codeact: CodeAct, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The child is woken on the caller's CPU (pinned while it sleeps) and must have its CPU
    # set back before the program's first line, or a long program would stay on one core.
    # (Given back by the host after the send, a short program saw one CPU now and then.)
    from codeact.sandbox import placement
    from codeact.sandbox.jail import backend

    monkeypatch.setattr(placement, "ENABLED", True)
    placed: list[list[int] | None] = []

    def spy(pid: int) -> list[int] | None:
        placed.append(placement.wake_process_near(pid))
        return placed[-1]

    monkeypatch.setattr(backend, "wake_process_near", spy)
    for _ in range(10):
        await asyncio.sleep(placement.QUIET_SECONDS * 5)  # quiet: the child is woken near
        result = await codeact.execute("import os\nsorted(os.sched_getaffinity(0))")
        assert result.ok and result.value == sorted(os.sched_getaffinity(0))
    assert any(cpus is not None for cpus in placed)  # the child was placed, and yet ran free


async def test_a_cpu_set_the_child_cannot_take_does_not_fail_the_program(
    codeact: CodeAct, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The child sets the CPU set from its request itself; if the kernel refuses it (a cpuset
    # changed between the host's read and the child's call), the program still runs.
    from codeact.sandbox.jail import backend

    monkeypatch.setattr(backend, "woken_near", lambda: True)
    monkeypatch.setattr(backend, "wake_process_near", lambda pid: [4095])
    result = await codeact.execute("print('ran')")
    assert result.ok, result.error
    assert result.stdout == "ran\n"


def _proc_lines(pid: int, name: str) -> list[str]:
    return Path(f"/proc/{pid}/{name}").read_text().splitlines()


def _proc_status(pid: int) -> dict[str, str]:
    lines = _proc_lines(pid, "status")
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


async def test_a_pooled_child_waits_for_its_run_with_every_wall_up(
    jail: JailBackend, codeact: CodeAct
) -> None:
    # Its walls come with it from the pool, so a run's request meets a confined child: the
    # lock filter stacked on the waiting one, no capabilities, the run's limits.
    # Two runs asking the same walls: the pool refills with this CodeAct's limits whatever
    # the tests before asked (one run moves it only if it is the backend's first).
    for _ in range(2):
        await codeact.execute("print(1)")
    deadline = asyncio.get_running_loop().time() + 10
    status: dict[str, str] = {}
    while asyncio.get_running_loop().time() < deadline:
        ready = [c for c in list(jail._pool._ready) if not c.exited.done()]
        if ready:
            status = _proc_status(ready[0].pid)
            if status.get("Seccomp_filters") == "2":
                break
        await asyncio.sleep(0.02)
    assert status.get("Seccomp") == "2" and status.get("Seccomp_filters") == "2", status
    assert status["NoNewPrivs"] == "1"
    assert int(status["CapEff"], 16) == 0 and int(status["CapPrm"], 16) == 0
    cpu = next(line for line in _proc_lines(ready[0].pid, "limits") if "cpu time" in line)
    assert cpu.split()[3:5] == ["21", "22"]  # wall_time 10 s: twice it, plus a margin


async def test_each_run_gets_the_limits_it_asks_for_whatever_the_pool_holds(
    codeact: CodeAct,
) -> None:
    # The pool holds children confined for the last run's limits: a run asking for others,
    # tighter or looser, must get a child of its own, never a pooled one.
    probe = (
        "import resource\n"
        "print(resource.getrlimit(resource.RLIMIT_CPU)[1], "
        "resource.getrlimit(resource.RLIMIT_AS)[1])"
    )
    seen: dict[int, set[int]] = {}
    for wall in (10, 10, 2, 2, 10, 2):
        result = await codeact.execute(probe, limits=Limits(wall_time=wall, memory_mb=64 * wall))
        assert result.ok, result.error
        cpu, address_space = (int(word) for word in result.stdout.split())
        assert cpu == wall * 2 + 2
        seen.setdefault(wall, set()).add(address_space)
    # The address space is the interpreter's plus the memory asked for.
    low, high = max(seen[2]), min(seen[10])
    assert 7 * 64 * 2**20 < high - low < 9 * 64 * 2**20


async def test_only_pooled_children_run_the_warm_up(
    jail: JailBackend, codeact: CodeAct, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A pooled child warms while it waits (its walls come from the pool's thread); one forked
    # for a run that waits for it does not (that would move the first touches before the run
    # and add ~3 ms of the warm-up's work).
    from codeact.sandbox.guest.wire import encode_frame as encode
    from codeact.sandbox.jail import pool

    sent: list[tuple[str, object]] = []

    def spy(message: dict[str, object]) -> bytes:
        if "warm" in message:
            sent.append((threading.current_thread().name, message["warm"]))
        return encode(message)

    monkeypatch.setattr(pool, "encode_frame", spy)
    mounted = CodeAct(backend=jail, limits=Limits(wall_time=10), file_mounts=[str(tmp_path)])
    for _ in range(3):  # new walls: a child forked for the first run, pooled ones after it
        result = await mounted.execute("print('mounted')")
        assert result.ok, result.error
        await asyncio.sleep(0.05)
    assert sent and all(bool(warm) is (name == "codeact-jail-pool") for name, warm in sent), sent
    assert {warm for _, warm in sent} == {"plain", False}, sent  # no session's run came


async def test_pooled_children_warm_as_sessions_while_sessions_run(
    jail: JailBackend, codeact: CodeAct, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The warm-up's session part (saving and restoring state, about half its work) only
    # while sessions' runs come: one in the last `SESSION_RUNS` runs.
    from codeact.sandbox.guest.wire import encode_frame as encode
    from codeact.sandbox.jail import pool

    sent: list[object] = []

    def spy(message: dict[str, object]) -> bytes:
        if message.get("warm"):
            sent.append(message["warm"])
        return encode(message)

    monkeypatch.setattr(pool, "encode_frame", spy)

    async def refilled_with(kind: str) -> bool:
        for _ in range(250):
            if kind in sent:
                return True
            await asyncio.sleep(0.02)
        return False

    session = codeact.session()
    for n in range(2):
        result = await session.execute(f"x = {n}\nx")
        assert result.ok and result.value == n, result
    assert await refilled_with("session"), sent
    sent.clear()
    for _ in range(pool.SESSION_RUNS):  # plain runs only, for a while
        assert (await codeact.execute("print(1)")).ok
    assert await refilled_with("plain"), sent


async def test_a_run_with_other_walls_takes_the_spare_and_its_own_walls(
    jail: JailBackend, codeact: CodeAct
) -> None:
    # The pool's children are confined for this CodeAct's walls; another CodeAct's run on
    # the same backend gets the spare, warmed but without walls, confined with its own.
    await codeact.execute("print(1)")
    for _ in range(250):
        if jail._pool._spares and jail._pool._ready:
            break
        await asyncio.sleep(0.02)
    spare = jail._pool._spares[0].pid
    other = CodeAct(backend=jail, limits=Limits(wall_time=7))
    probe = "import os, resource\nos.getpid(), resource.getrlimit(resource.RLIMIT_CPU)[1]"
    result = await other.execute(probe)
    assert result.ok, result.error
    assert list(result.value) == [spare, 16], result.value
