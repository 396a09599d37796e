"""The cost a session adds to a call, by the size of the state it carries.

For each size, a session is given a state of about that many bytes, then the same small
program (``n += 1``) runs in it again and again, each time right after the same program ran
without a session. The cost is the difference of each pair (p50 and p90 of the differences):
what restoring the state before the program and saving it after it cost, moving the bytes
both ways included. The state is a list of small records, the kind of data a program fetches
and keeps (``{"id", "name", "score"}`` dicts: pickling many small objects is the costly case),
or, for ``session_100KiB_str``, one string of that size (the cost of moving the bytes alone).

Each size is measured twice: with a program that does not read the state (``n += 1``: the
state is restored lazily, so it stays as bytes, kept by the host), and with one that reads
it (``n += len(data)``, the ``_read`` cases: the state is unpickled before the program and
pickled again after it). ``session_baseline`` is the p50 and p90 of the calls without a
session themselves, the reference the differences are taken from.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from ..policy.limits import Limits
from ..runtime import CodeAct, ExecutionResult, Session
from .sandbox_bench import PACE, CaseResult
from .stats import percentile

__all__ = ["SESSION_CASES", "bench_sessions"]

#: (case name, state size in bytes, records or one string, share of the fresh runs it gets);
#: each is measured as is (the program leaves the state alone) and as CASE_read.
SIZES = (
    ("session_1KiB", 1 << 10, "records", 4),
    ("session_100KiB", 100 << 10, "records", 4),
    ("session_100KiB_str", 100 << 10, "str", 4),
    ("session_10MiB", 10 << 20, "records", 40),
)
_PROGRAMS = (("", "n += 1"), ("_read", "n += len(data)"))
#: Every case name the benchmark reports, in its order.
SESSION_CASES = tuple(
    [f"{case}{suffix}" for case, *_ in SIZES for suffix, _ in _PROGRAMS] + ["session_baseline"]
)
_RECORD_BYTES = 36  # about what one record pickles to; the first run measures it exactly
_PAUSE = 0.05  # seconds before each timed call (not timed): the pool refills, as between turns
_LIMITS = Limits(wall_time=120, memory_mb=1024, state_bytes=32 << 20)


async def bench_sessions(name: str, runs: int, into: list[CaseResult]) -> None:
    """The added cost per call of a session on backend `name`, for each size, each appended
    to `into` as it is measured (an interrupt keeps them)."""
    codeact = CodeAct(backend=name, limits=_LIMITS)
    await codeact.prepare()
    for _ in range(5):
        await codeact.execute("n = 1")
    plains: list[float] = []
    for case, size, kind, share in SIZES:
        session = await _session_of_size(codeact, size, kind)
        for suffix, program in _PROGRAMS:
            added = []
            # Paired: each session call next to a call without one, in turn first and
            # second, so that the load of the machine, which drifts, weighs on both alike;
            # with a pause before each that lets the backend's pool refill, as turns do.
            for i in range(max(5, runs // share)):
                if i % 2:
                    kept = await _once(_next_call(session, program))
                    plain = await _once(lambda: _check(codeact.execute("n = 1")))
                else:
                    plain = await _once(lambda: _check(codeact.execute("n = 1")))
                    kept = await _once(_next_call(session, program))
                added.append(kept - plain)
                plains.append(plain)
            p50, p90 = percentile(added, 50), percentile(added, 90)
            into.append(CaseResult(name, case + suffix, p50, p90, len(added)))
    into.append(
        CaseResult(
            name, "session_baseline", percentile(plains, 50), percentile(plains, 90), len(plains)
        )
    )


async def _session_of_size(codeact: CodeAct, size: int, kind: str) -> Session:
    """A session whose state is `size` bytes, give or take a record."""
    session = codeact.session()
    count = max(1, size // (_RECORD_BYTES if kind == "records" else 1))
    for _ in range(3):  # measure, then correct the number of records
        result = await session.execute(
            "data = [{'id': i, 'name': 'user' + str(i), 'score': i * 0.5} "
            f"for i in range({count})]\nn = 0"
            if kind == "records"
            else f"data = 'x' * {count}\nn = 0"
        )
        if not result.ok:
            raise RuntimeError(f"the benchmark's setup failed: {result.error}")
        report = result.session
        if report is None or not report.kept:
            raise RuntimeError(f"the benchmark's state was not kept: {report}")
        if abs(report.size - size) <= size // 50:
            break
        count = max(1, round(count * size / report.size))
    await asyncio.sleep(PACE)
    return session


async def _once(run: Callable[[], Awaitable[None]]) -> float:
    await asyncio.sleep(_PAUSE)
    started = time.perf_counter()
    await run()
    return (time.perf_counter() - started) * 1000


def _next_call(session: Session, program: str) -> Callable[[], Awaitable[None]]:
    return lambda: _check(session.execute(program))


async def _check(running: Awaitable[ExecutionResult]) -> None:
    result = await running
    if not result.ok:
        raise RuntimeError(f"benchmark program failed: {result.error}")
