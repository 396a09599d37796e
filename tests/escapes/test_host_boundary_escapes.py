"""What a hostile program does to the host through its tool calls (issue 11): sizes, exceptions
and waits are checked at the call pipeline's boundary, on every backend.

* arguments over `Limits.tool_argument_bytes` and calls of unknown tools are refused before the
  host parses them, and records keep bounded copies;
* results over `Limits.tool_result_bytes` are refused before they are converted or copied;
* whatever a tool raises (SystemExit, KeyboardInterrupt, GeneratorExit, its own CancelledError,
  StopIteration, a failing ``__str__``) fails the call: the host's event loop lives on and
  `execute()` returns;
* sync tools run on codeact's threads: stuck ones starve neither the next execution's calls nor
  the application's own default executor;
* nothing the guest sends in place of its report, or as a forged frame, makes `execute()`
  raise or the host decode it whole.

Approvals, capped in number and total wait per program, are in test_approval_escapes.py.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Callable
from typing import Any

import pytest

from codeact import CodeAct, ExecutionResult, Limits, tool

_MIB = 1024 * 1024
LIMITS = Limits(
    wall_time=10,
    memory_mb=128,
    output_bytes=64 * 1024,
    tool_argument_bytes=_MIB,
    tool_result_bytes=_MIB,
)


@tool
def echo(value: Any = None) -> Any:
    """Returns its argument unchanged."""
    return value


@tool
def big_result(size: int) -> str:
    """Returns `size` characters."""
    return "x" * size


@tool
def many_strings(count: int) -> list[str]:
    """Returns `count` strings of 1000 characters (the same one, so the host pays nothing)."""
    return ["y" * 1000] * count


def _raiser(kind: str) -> None:
    class BadStr(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no message for you")

    raise {
        "SystemExit": SystemExit(3),
        "KeyboardInterrupt": KeyboardInterrupt(),
        "GeneratorExit": GeneratorExit(),
        "CancelledError": asyncio.CancelledError(),
        "StopIteration": StopIteration(),
        "BadStr": BadStr(),
    }[kind]


@tool
def raise_sync(kind: str) -> None:
    """Raises the exception named `kind`."""
    _raiser(kind)


@tool
async def raise_async(kind: str) -> None:
    """Raises the exception named `kind`, from a coroutine."""
    await asyncio.sleep(0)
    _raiser(kind)


KINDS = ["SystemExit", "KeyboardInterrupt", "GeneratorExit", "CancelledError", "StopIteration",
         "BadStr"]  # fmt: skip


def _alive(codeact: CodeAct) -> None:
    after = codeact.execute_sync("6 * 7")
    assert after.ok and after.value == 42, after.error


# -- finding 1: argument sizes ----------------------------------------------------------------
async def test_arguments_over_the_limit_are_refused_before_parsing(
    backend_name: str, attempt: Callable[..., Any]
) -> None:
    code = (
        "s = 'z' * (2 * 1024 * 1024)\nseen = []\nfor i in range(20):\n"
        "    try:\n        call_tool('echo', value=s)\n"
        "    except ToolError as e:\n        seen.append(str(e))\n"
        "print(len(seen))\nprint(seen[0])"
    )
    result: ExecutionResult = await attempt(code, tools=[echo], limits=LIMITS)
    assert result.ok, result.error
    lines = result.stdout.splitlines()
    assert lines[0] == "20"
    assert "Limits.tool_argument_bytes" in lines[1] and "echo()" in lines[1]
    assert len(result.tool_calls) == 20
    for record in result.tool_calls:
        assert record.outcome == "invalid"
        assert len(repr(record.arguments)) < 200  # not the 2 MiB text, nor its parse


async def test_unknown_tools_are_refused_without_reading_their_arguments(
    backend_name: str, attempt: Callable[..., Any]
) -> None:
    # 900 KiB of empty objects: under the size limit, costly to parse (about 30x its size).
    code = (
        "import json\ntry:\n    call_tool('no_such_tool', v=[{}] * 300000)\n"
        "except ToolError as e:\n    print(e)"
    )
    result: ExecutionResult = await attempt(code, tools=[echo], limits=LIMITS)
    assert result.ok, result.error
    assert "no_such_tool" in result.stdout
    (record,) = result.tool_calls
    assert record.outcome == "unknown"
    assert isinstance(record.arguments, str) and "not read" in record.arguments


async def test_records_keep_bounded_copies_of_huge_unknown_tool_names(
    backend_name: str, attempt: Callable[..., Any]
) -> None:
    """The name is the program's too: 1 MB names, one per call, were each kept whole in the
    record and twice in the message (several hundred MB of the host's memory per run)."""
    code = (
        "n = 'a' * 1_000_000\nseen = []\nfor i in range(30):\n"
        "    try:\n        call_tool(n + str(i))\n"
        "    except ToolError as e:\n        seen.append(len(str(e)))\n"
        "print(len(seen), max(seen))"
    )
    result: ExecutionResult = await attempt(code, tools=[echo], limits=LIMITS)
    assert result.ok, result.error
    count, longest = map(int, result.stdout.split())
    assert count == 30 and longest < 1000, result.stdout
    assert len(result.tool_calls) == 30
    for record in result.tool_calls:
        assert record.outcome == "unknown"
        assert len(record.name) < 300 and len(record.error or "") < 1000


@tool
def find_user(user_id: str, limit: int = 1) -> str:
    """Raises with the id it was given, as lookups do ("no user named ...")."""
    raise LookupError(f"no user named {user_id!r}")


async def test_error_messages_that_quote_the_program_are_bounded(
    backend_name: str, attempt: Callable[..., Any]
) -> None:
    """Error messages quote what the program sent: an unexpected argument's name, a value the
    tool repeats. Each was kept whole in the record and sent back whole, call after call."""
    code = (
        "big = 'a' * 1_000_000\nlongest = 0\n"
        "for kwargs in [{'user_id': big}, {'user_id': 'x', big: 1}, {'user_id': 'x', 'limit': big}]"
        " * 5:\n"
        "    try:\n        find_user(**kwargs)\n"
        "    except ToolError as e:\n        longest = max(longest, len(str(e)))\n"
        "print(longest)"
    )
    result: ExecutionResult = await attempt(code, tools=[find_user], limits=LIMITS)
    assert result.ok, result.error
    assert 1000 < int(result.stdout) < 5000, result.stdout
    assert len(result.tool_calls) == 15
    for record in result.tool_calls:
        assert record.outcome in ("error", "invalid")
        assert len(record.error or "") < 5000


async def test_http_records_keep_bounded_copies_of_huge_urls(
    backend_name: str, attempt: Callable[..., Any]
) -> None:
    """A URL is the program's too: one of 500 KB (up to 14 MB) was kept whole in each record and
    quoted whole in its error, request after request. Refused before anything is sent."""
    code = (
        "u = 'http://example.com/' + 'a' * 500_000\nlongest = 0\nfor i in range(20):\n"
        "    try:\n        http_get(u + str(i))\n"
        "    except OSError as e:\n        longest = max(longest, len(str(e)))\n"
        "print(longest)"
    )
    result: ExecutionResult = await attempt(
        code, tools=[echo], limits=LIMITS, allowed_domains=["example.com"]
    )
    assert result.ok, result.error
    assert int(result.stdout) < 1000, result.stdout
    assert len(result.http_requests) == 20
    for record in result.http_requests:
        assert record.outcome == "error" and "MAX_URL_LENGTH" in (record.error or "")
        assert len(record.url) <= 8192 and len(record.error or "") < 1000


async def test_records_keep_bounded_copies_of_large_arguments(
    backend_name: str, attempt: Callable[..., Any]
) -> None:
    code = "r = call_tool('echo', value=['w' * 1000] * 500)\nlen(r)"
    result: ExecutionResult = await attempt(code, tools=[echo], limits=LIMITS)
    assert result.ok and result.value == 500, result.error
    (record,) = result.tool_calls
    assert record.outcome == "ok"
    assert len(repr(record.arguments)) < 32 * 1024  # the call carried about 500 KB


# -- finding 15: result sizes -----------------------------------------------------------------
@pytest.mark.parametrize(("tool_name", "args"), [
    ("big_result", "size=3 * 1024 * 1024"),
    ("many_strings", "count=5000"),
])  # fmt: skip
async def test_results_over_the_limit_fail_the_call_with_the_limit_named(
    backend_name: str, attempt: Callable[..., Any], tool_name: str, args: str
) -> None:
    code = (
        f"try:\n    call_tool('{tool_name}', {args})\nexcept ToolError as e:\n    print(e)\n"
        f"r = call_tool('{tool_name}', {args.replace('3 * 1024 * 1024', '10').replace('5000', '2')})\n"
        "len(r)"
    )
    result: ExecutionResult = await attempt(code, tools=[big_result, many_strings], limits=LIMITS)
    assert result.ok, result.error
    assert "Limits.tool_result_bytes" in result.stdout and f"{tool_name}()" in result.stdout
    assert result.value in (10, 2)
    assert result.tool_calls[0].outcome == "error"


# -- finding 3: every BaseException from a tool fails its call -------------------------------
@pytest.mark.parametrize("how", ["call_tool", "call_tool_async"])
@pytest.mark.parametrize("which", ["raise_sync", "raise_async"])
def test_whatever_a_tool_raises_fails_the_call_and_the_host_loop_lives(
    backend_name: str, make_codeact: Callable[..., CodeAct], how: str, which: str
) -> None:
    lines = [
        "import asyncio",
        "seen = []",
        f"for kind in {KINDS!r}:",
        "    try:",
        f"        r = {'await ' if how == 'call_tool_async' else ''}{how}('{which}', kind=kind)",
        "        seen.append(kind + ' returned')",
        "    except ToolError as e:",
        "        seen.append(kind + ' ' + str(e)[:60])",
        "seen",
    ]
    codeact = make_codeact(tools=[raise_sync, raise_async], limits=LIMITS.replace(wall_time=20))

    async def main() -> tuple[ExecutionResult, str]:
        result = await codeact.execute("\n".join(lines))
        return result, "the loop lives"

    started = time.monotonic()
    result, after = asyncio.run(main())  # SystemExit or KeyboardInterrupt would end it here
    assert after == "the loop lives"
    assert time.monotonic() - started < 15  # StopIteration must not hang the call
    assert result.ok, result.error
    assert [s.split(" ")[0] for s in result.value] == KINDS
    for line in result.value:
        assert "returned" not in line, line
    assert "SystemExit" in result.value[0] and "KeyboardInterrupt" in result.value[1]
    assert "BadStr" in result.value[-1]
    assert all(r.outcome == "error" for r in result.tool_calls), result.tool_calls
    _alive(codeact)


# -- finding 9: codeact's own threads for sync tools ----------------------------------------
@tool(timeout=0.5)
def stuck(seconds: float) -> str:
    """Sleeps `seconds` (far past its timeout)."""
    time.sleep(seconds)
    return "woke"


@tool(timeout=2)
def quick() -> str:
    """Returns at once."""
    return "quick"


async def test_stuck_sync_tools_starve_neither_the_next_run_nor_the_application(
    backend_name: str, make_codeact: Callable[..., CodeAct]
) -> None:
    codeact = make_codeact(tools=[stuck, quick], limits=LIMITS.replace(tool_calls=100))
    stall = (
        "import asyncio\n"
        "await asyncio.gather(*(call_tool_async('stuck', seconds=4) for _ in range(40)))"
    )
    first = await codeact.execute(stall)
    assert not first.ok and first.error is not None
    assert first.error.limit == "tool_timeout", first.error
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    # The application's own default executor is free: codeact never used it.
    assert await asyncio.wait_for(loop.run_in_executor(None, lambda: "mine"), 2) == "mine"
    assert time.monotonic() - started < 1.5
    second = await codeact.execute(
        "import asyncio\nawait asyncio.gather(*(call_tool_async('quick') for _ in range(8)))"
    )
    assert second.ok, second.error  # no false tool_timeout
    assert second.value == ["quick"] * 8


# -- finding 4: nothing the guest sends makes execute() raise -------------------------------
FORGED_REPORTS = {
    # The runner's last act is json.dumps(report): the program replaces it.
    "deeply_nested_report": (
        "import json\njson.dumps = lambda *a, **k: '[' * 30000 + ']' * 30000\n1"
    ),
    "report_of_the_wrong_type": "import json\njson.dumps = lambda *a, **k: '[1, 2]'\n1",
    "report_with_a_huge_number": "import json\njson.dumps = lambda *a, **k: '1' * 100000\n1",
    "report_with_an_odd_value": (
        "import json\njson.dumps = lambda *a, **k: "
        "'{\"has_value\": true, \"value\": ' + '[' * 500 + ']' * 500 + '}'\n1"
    ),
}


@pytest.mark.parametrize("name", FORGED_REPORTS)
async def test_a_forged_report_is_a_failed_result_never_an_exception(
    backend_name: str, attempt: Callable[..., Any], name: str
) -> None:
    result: ExecutionResult = await attempt(FORGED_REPORTS[name])
    if name == "report_with_an_odd_value" and result.ok:  # too deep to hand over as a value
        assert result.value is None and "nested" in (result.value_repr or ""), result
    else:  # (on process backends json.dumps also writes the frames: those break first)
        assert not result.ok and result.error is not None


# -- finding 1, process backends: frames are capped on their length prefix -----------------
FORGED_FRAMES = {
    # A 60 MiB call frame announced: refused on its length prefix, never read.
    "huge_call_frame": 'import struct\nsock.sendall(struct.pack(\'>I\', 60 << 20) + b\'["c", "echo", "\')\n'
    "sock.sendall(b' ' * (8 << 20))",
    # 20 MiB of nested objects in an HTTP frame (the kind with the largest limit): decoded
    # flat, refused at its first bracket (decoded whole, it costs the host about 1 GB).
    "nested_frame": "import struct\ndata = b'[\"h\", [' + b'{}, ' * (5 << 20) + b'{}]]'\n"
    "sock.sendall(struct.pack('>I', len(data)) + data)",
    "nested_report_frame": "import struct\ndata = b'[\"r\", ' + b'[' * 100000 + b']' * 100000 + b']'\n"
    "sock.sendall(struct.pack('>I', len(data)) + data)",
}


@pytest.mark.parametrize("name", FORGED_FRAMES)
async def test_forged_frames_are_refused_before_they_are_decoded(
    backend_name: str, attempt: Callable[..., Any], name: str
) -> None:
    if backend_name == "wasm":
        pytest.skip("wasm: no frames (host calls carry strings; their sizes are tested above)")
    code = (
        "import codeact_host, time\nsock = codeact_host.HOST._sock\n"
        + FORGED_FRAMES[name]
        + "\ntime.sleep(5)"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    result: ExecutionResult = await attempt(code)
    assert time.monotonic() - started < 8
    assert not result.ok and result.error is not None
    assert "protocol" in result.error.message, result.error
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
    assert grown_mb < 200, f"the host's peak memory grew by {grown_mb:.0f} MB"
