"""A tool's result is converted within its limits: `Limits.tool_result_bytes` as it goes (an
iterator consumed no further), the call's timeout, off the event loop, and whatever the value
raises fails only the call."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from codeact import CodeAct, Limits, tool

_CATCH = "try:\n    {call}\nexcept ToolError as e:\n    print('caught', str(e)[:300])\n'went on'"


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_generator_is_consumed_only_as_far_as_the_result_limit(
    make_codeact: Callable[..., CodeAct], kind: str
) -> None:
    consumed = [0]

    def numbers() -> Iterator[int]:
        while consumed[0] < 1_000_000:  # a guard: before the fix, all of it was consumed
            consumed[0] += 1
            yield consumed[0]
        raise RuntimeError("consumed a million items")

    @tool
    def count() -> Iterator[int]:
        """Counts."""
        return numbers()

    @tool(name="count")
    async def acount() -> Iterator[int]:
        """Counts."""
        return numbers()

    codeact = make_codeact(
        tools=[count if kind == "sync" else acount],
        limits=Limits(wall_time=20, tool_result_bytes=64 * 1024),
    )
    result = await codeact.execute(_CATCH.format(call="count()"))
    assert result.ok and result.value == "went on", result.error
    assert "caught" in result.stdout and "Limits.tool_result_bytes=64 KiB" in result.stdout
    assert consumed[0] < 20_000  # 64 KiB of JSON, at 3 bytes or more an item


async def test_an_async_tools_result_is_converted_off_the_event_loop(
    make_codeact: Callable[..., CodeAct],
) -> None:
    threads: list[int] = []

    def rows() -> Iterator[int]:
        threads.append(threading.get_ident())
        yield from range(1000)

    @tool
    async def table() -> Iterator[int]:
        """Rows."""
        threads.append(threading.get_ident())
        return rows()

    codeact = make_codeact(tools=[table])
    result = await codeact.execute("len(table())")
    assert result.ok and result.value == 1000, result.error
    assert len(threads) == 2 and threads[0] != threads[1]  # the tool on the loop, rows not


async def test_a_slow_iterator_counts_toward_the_tool_timeout(
    make_codeact: Callable[..., CodeAct],
) -> None:
    def slow() -> Iterator[int]:
        for i in range(100):  # 5 s in all; the tool's timeout is 0.5 s
            time.sleep(0.05)
            yield i

    @tool
    def trickle() -> Iterator[int]:
        """Slowly."""
        return slow()

    codeact = make_codeact(tools=[trickle], limits=Limits(wall_time=20, tool_timeout=0.5))
    started = time.monotonic()
    result = await codeact.execute(_CATCH.format(call="trickle()"))
    assert not result.ok and result.error is not None
    assert result.error.limit == "tool_timeout", result.error
    assert time.monotonic() - started < 4


async def test_an_iterator_that_blocks_is_stopped_at_the_tool_timeout(
    make_codeact: Callable[..., CodeAct],
) -> None:
    # Converted on the sandbox's thread (a sync tool runs inline), one that blocked held the
    # whole run until it returned (30 s for a 2 s timeout): nothing watched the conversion.
    release = threading.Event()

    def stuck() -> Iterator[int]:
        yield 1
        release.wait(20)  # a cursor waiting on a dead connection
        yield 2

    @tool
    def feed() -> Iterator[int]:
        """Rows."""
        return stuck()

    codeact = make_codeact(tools=[feed], limits=Limits(wall_time=25, tool_timeout=0.5))
    started = time.monotonic()
    try:
        result = await codeact.execute(_CATCH.format(call="feed()"))
    finally:
        release.set()
    assert result.error is not None and result.error.limit == "tool_timeout", result.error
    assert time.monotonic() - started < 10


class _RaisingItems(dict):  # type: ignore[type-arg]
    def items(self) -> Any:
        raise RuntimeError("items")


class _EndlessMapping(Mapping[str, int]):
    def __getitem__(self, key: str) -> int:
        return 1

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[str]:
        for i in range(10**6):  # a guard: "endless" before the fix
            yield str(i)
        raise RuntimeError("iterated a million keys")


@pytest.mark.parametrize(
    "value", [_RaisingItems(a=1), _EndlessMapping()], ids=["raises", "endless"]
)
async def test_a_result_whose_own_methods_misbehave_fails_only_its_call(
    make_codeact: Callable[..., CodeAct], value: Any
) -> None:
    @tool
    def weird() -> Any:
        """A strange value."""
        return value

    codeact = make_codeact(tools=[weird], limits=Limits(wall_time=20, tool_result_bytes=4096))
    result = await codeact.execute(_CATCH.format(call="weird()"))
    assert result.ok and result.value == "went on", result.error
    assert result.stdout.startswith("caught weird()") or "tool_result_bytes" in result.stdout


@tool
def holds_itself(kind: str) -> Any:
    """A result that contains itself (a tool's bug), of several shapes."""
    if kind == "list":
        a: list[Any] = [1]
        a.append(a)
        return a
    if kind == "wide":  # every one of 1,000 keys leads back
        w: dict[str, Any] = {}
        for i in range(1000):
            w[str(i)] = w
        return w
    inner: dict[str, Any] = {"n": 1}
    inner["loop"] = [inner]
    return {"data": inner}


@tool
def shares_parts() -> list[Any]:
    """The same list twice, and a long one 1,000 times: shared, not a loop."""
    part = list(range(100))
    return [part, part, [part] * 1000]


@pytest.mark.parametrize("limit", [None, 256 * 2**20])
async def test_a_result_that_contains_itself_is_said_so_at_once(
    make_codeact: Callable[..., CodeAct], limit: int | None
) -> None:
    # Said as what it is, quickly, whatever the limit: never "larger than the limit... raise
    # the limit" (raised, the walk around the loop ran into the tool's timeout instead).
    limits = Limits(tool_timeout=20) if limit is None else Limits(tool_result_bytes=limit)
    codeact = make_codeact(tools=[holds_itself, shares_parts], limits=limits)
    for kind, where in [
        ("list", "result[1] is result"),
        ("wide", "result['0'] is result"),
        ("nested", "result['data']['loop'][0] is result['data']"),
    ]:
        started = time.monotonic()
        result = await codeact.execute(f"holds_itself(kind={kind!r})")
        assert time.monotonic() - started < 5
        assert result.error is not None
        assert f"contains itself ({where})" in result.error.message, result.error.message
        assert "limit" not in result.error.message
    result = await codeact.execute("r = shares_parts()\n[len(r[0]), len(r[2]), r[2][999][99]]")
    assert result.ok, result.error
    assert result.value == [100, 1000, 99]
