"""The wasm pool warms an instance only when it has time to (see sandbox/wasm/pool.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

from codeact.sandbox.wasm.pool import PRESSURE_SECONDS, InstancePool


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
