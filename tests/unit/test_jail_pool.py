"""The jail's pool of children (`sandbox/jail/pool.py`) and the wasm pool, as callers on
several threads use them: a deque another thread emptied is never popped blindly."""

from __future__ import annotations

import collections
import concurrent.futures
from typing import Any

from codeact import Limits
from codeact.policy.outputs import OutputLimits
from codeact.sandbox.jail.pool import ChildPool, Walls, confinement_limits


class _Raced(collections.deque):  # type: ignore[type-arg]
    """A deque that another thread empties between a test for emptiness and the pop."""

    def __bool__(self) -> bool:
        return True

    def __len__(self) -> int:
        return 1

    def popleft(self) -> Any:
        raise IndexError("pop from an empty deque")


class _Sock:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.sent.append(data)


class _Child:
    def __init__(self) -> None:
        self.sock = _Sock()
        self.walls: object = None
        self.unsent = b""
        self.output_dir: str | None = None
        self.exited: concurrent.futures.Future[int | None] = concurrent.futures.Future()
        self.closed = False

    def close(self) -> None:
        self.closed = True


class _Zygote:
    alive = True

    def __init__(self) -> None:
        self.info: dict[str, object] = {"namespaces": False}
        self.forked: list[_Child] = []

    def fork(self) -> _Child:
        self.forked.append(_Child())
        return self.forked[-1]


def test_a_take_that_finds_the_pool_emptied_by_another_caller_forks_a_child() -> None:
    zygote = _Zygote()
    pool = ChildPool(2, lambda: zygote, lambda: zygote)  # type: ignore[arg-type, return-value]
    pool._ready = _Raced()
    pool._spares = _Raced()
    walls = Walls(confinement_limits(Limits(), OutputLimits()), ())
    child = pool.take(walls, session=False)
    assert child is zygote.forked[0]  # type: ignore[comparison-overlap]
    assert child.walls == walls and child.sock.sent  # type: ignore[attr-defined]
    pool.discard_all()  # the same race while closing: nothing raised


def test_a_wasm_pool_closed_while_a_caller_takes_from_it_frees_without_raising() -> None:
    from codeact.sandbox.wasm.pool import InstancePool

    pool = InstancePool(lambda: None, 0)  # type: ignore[arg-type, return-value]
    pool._ready = _Raced()
    pool._used = _Raced()
    pool.close()
