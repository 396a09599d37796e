"""The wasm pool warms an instance only when it has time to (see sandbox/wasm/pool.py)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import pytest

from codeact.sandbox.wasm.pool import PRESSURE_SECONDS, InstancePool

from .wasm_runs import first_run_faults


class _Instance:
    def __init__(self, warm: bool) -> None:
        self.warm = warm
        self.output_dir: str | None = None

    def close(self) -> None:
        pass


def _wait(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _pool(size: int) -> InstancePool:
    return InstancePool(
        lambda: _Instance(True),  # type: ignore[arg-type, return-value]
        size,
        cold_factory=lambda: _Instance(False),  # type: ignore[arg-type, return-value]
    )


def test_the_first_fill_is_warm() -> None:
    pool = _pool(2)
    try:
        _wait(lambda: len(pool) == 2)
        first, second = pool.take(), pool.take()
        assert first is not None and first.warm  # type: ignore[attr-defined]
        assert second is not None and second.warm  # type: ignore[attr-defined]
    finally:
        pool.close()


def test_a_take_that_finds_it_empty_makes_the_next_ones_cold() -> None:
    pool = _pool(2)
    try:
        _wait(lambda: len(pool) == 2)
        assert pool.take() is not None and pool.take() is not None
        assert pool.take() is None  # back to back: empty
        _wait(lambda: len(pool) == 2)
        made = [pool.take(), pool.take()]
        assert all(p is not None and not p.warm for p in made)  # type: ignore[attr-defined]
    finally:
        pool.close()


def test_executions_apart_get_warm_instances_again() -> None:
    pool = _pool(2)
    try:
        _wait(lambda: len(pool) == 2)
        pool.take(), pool.take()
        assert pool.take() is None
        _wait(lambda: len(pool) == 2)
        time.sleep(PRESSURE_SECONDS + 0.05)
        for _ in range(3):  # a take every so often: each refill has another one ready
            used = pool.take()
            assert used is not None
            pool.discard(used)
            _wait(lambda: len(pool) == 2)
        assert all(p.warm for p in pool._ready)  # type: ignore[attr-defined]
    finally:
        pool.close()


_ROWS_PROGRAM = """\
totals = []
for user in list_users():
    total = 0.0
    for line in list_users():
        total += round(line["qty"] * line["unit_price"] * 0.9, 2)
    totals.append({"id": user["id"], "name": user["name"], "total": total})
totals.sort(key=lambda t: t["total"], reverse=True)
for t in totals:
    print(f'{t["id"]} {t["name"]}: {t["total"]:.2f}')
totals
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts Linux page faults")
def test_the_warm_up_leaves_a_rows_program_few_first_touches() -> None:
    """A warmed instance has already faulted in what a program that reads a tool's rows,
    computes, sorts and prints needs: its first run there faults far less than in a cold
    instance (about 30 pages against 140 before the warm-up allocated and freed objects)."""
    import json

    rows = json.dumps(
        [{"id": i, "name": f"user{i}", "qty": i + 1, "unit_price": 2.5 * i} for i in range(8)]
    )
    request = json.dumps(
        {"code": _ROWS_PROGRAM, "tools": [{"name": "list_users", "positional": []}]}
    )
    warm = min(first_run_faults(request, rows, warm=True) for _ in range(3))
    cold = min(first_run_faults(request, rows, warm=False) for _ in range(3))
    print(f"first-run page faults: warmed {warm}, cold {cold}")
    assert warm < 80 and warm * 8 < cold, (warm, cold)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts Linux page faults")
def test_the_guest_is_built_warm() -> None:
    """The runner's warm-up runs once at build time too (codeact_guest.py), so the snapshot
    every instance starts from has the interpreter's caches filled and the runner's code
    specialised: `print(1)` in a pool-warmed instance then writes almost no page the warm-up
    did not (0-5 here, by build: a guest built from scratch in CI wrote 5 where the local
    build wrote 4; 9 with a guest built cold)."""
    import json

    request = json.dumps({"code": "print(1)", "tools": []})
    fewest = min(first_run_faults(request, "null", warm=True) for _ in range(5))
    print(f"page faults of print(1) in a warmed instance: {fewest}")
    assert fewest <= 6, fewest
