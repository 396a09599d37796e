"""The contract inside the sandbox for the program itself, as model code sees it: what it
prints and its last expression's value, its tracebacks, asyncio, how it exits, a stdin that
is not there, and a fresh start every time. Its tools are test_contract.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest

from codeact import CodeAct, tool


async def test_stdout_and_last_expression_value(make_codeact: Callable[..., CodeAct]) -> None:
    result = await make_codeact().execute("print('hello')\nprint('world')\n{'a': [1, 2]}")
    assert result.stdout == "hello\nworld\n"
    assert result.value == {"a": [1, 2]}


async def test_value_without_json_form_comes_back_as_repr(
    make_codeact: Callable[..., CodeAct],
) -> None:
    result = await make_codeact().execute("class Thing:\n    pass\nThing")
    assert result.ok
    assert result.value is None
    assert result.value_repr == "<class '__main__.Thing'>"


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        ("{1: 'a', '1': 'b'}", "{1: 'a', '1': 'b'}"),  # was {'1': 'b'}: a key and its value lost
        ("{True: 1, None: 2}", "{True: 1, None: 2}"),  # was {'true': 1, 'null': 2}
        ("[1.5, {'x': float('nan')}]", "[1.5, {'x': nan}]"),  # was NaN: not JSON
        ("float('inf')", "inf"),
    ],
)
async def test_a_value_json_would_change_comes_back_as_its_repr(
    make_codeact: Callable[..., CodeAct], code: str, shown: str
) -> None:
    result = await make_codeact().execute(code)
    assert result.ok, result.error
    assert (result.value, result.value_repr) == (None, shown)
    json.loads(json.dumps(result.to_dict(), allow_nan=False))  # the CLI's --json stays JSON


async def test_a_json_value_comes_back_as_the_value(make_codeact: Callable[..., CodeAct]) -> None:
    result = await make_codeact().execute("{'a': [1, (2, 3)], 'b': None, 'c': 1.5}")
    assert (result.value, result.value_repr) == ({"a": [1, [2, 3]], "b": None, "c": 1.5}, None)


async def test_traceback_line_numbers_are_those_of_the_code(
    make_codeact: Callable[..., CodeAct],
) -> None:
    code = "def f(x):\n    return 10 / x\n\nprint('before')\nf(0)\n"
    result = await make_codeact().execute(code)
    assert not result.ok and result.error is not None
    assert result.error.type == "ZeroDivisionError"
    assert result.error.lineno == 2
    tb = result.error.traceback
    assert 'File "<code>", line 5, in <module>' in tb
    assert 'File "<code>", line 2, in f' in tb
    assert "return 10 / x" in tb
    assert result.stdout == "before\n"


async def test_syntax_error_points_at_its_line(make_codeact: Callable[..., CodeAct]) -> None:
    result = await make_codeact().execute("x = 1\ny = (\n")
    assert result.error is not None
    assert result.error.type == "SyntaxError"
    assert result.error.lineno == 2


async def test_top_level_await_and_gather_run_tools_concurrently(
    make_codeact: Callable[..., CodeAct],
) -> None:
    started: list[int] = []
    all_started = asyncio.Event()

    @tool
    async def rendezvous(i: int) -> int:
        """Returns only once three calls are in flight at the same time."""
        started.append(i)
        if len(started) == 3:
            all_started.set()
        await asyncio.wait_for(all_started.wait(), timeout=10)
        return i * 10

    code = (
        "import asyncio\n"
        "await asyncio.gather(*(call_tool_async('rendezvous', i=i) for i in range(3)))"
    )
    result = await make_codeact(tools=[rendezvous]).execute(code)
    assert result.ok, result.error
    assert result.value == [0, 10, 20]


async def test_asyncio_run_and_sleep_work(make_codeact: Callable[..., CodeAct]) -> None:
    code = (
        "import asyncio\nasync def main():\n    await asyncio.sleep(0.01)\n    return 'ok'\n"
        "asyncio.run(main())"
    )
    result = await make_codeact().execute(code)
    assert result.ok, result.error
    assert result.value == "ok"


async def test_every_execution_starts_fresh(make_codeact: Callable[..., CodeAct]) -> None:
    codeact = make_codeact()
    first = await codeact.execute("import json\njson.secret = 42\nleft_behind = 1\n'set'")
    assert first.value == "set"
    second = await codeact.execute(
        "import json\n[hasattr(json, 'secret'), 'left_behind' in globals()]"
    )
    assert second.value == [False, False]


async def test_system_exit_zero_is_success_and_nonzero_is_failure(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact()
    assert (await codeact.execute("import sys\nprint('x')\nsys.exit(0)")).ok
    failed = await codeact.execute("import sys\nsys.exit(3)")
    assert not failed.ok and failed.error is not None and failed.error.type == "SystemExit"


async def test_os_exit_ends_the_program_like_sys_exit(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact()
    ok = await codeact.execute("import os\nprint('x', flush=True)\nos._exit(0)")
    assert ok.ok and ok.stdout == "x\n", ok.error
    # was, on wasm: SandboxError "the sandbox stopped unexpectedly: error while executing at
    # wasm backtrace:" for both
    failed = await codeact.execute("import os\nos._exit(3)")
    assert not failed.ok and failed.error is not None
    assert failed.error.type == "SystemExit" and "os._exit" in failed.error.message


NO_STDIN = "the sandbox has no stdin: pass data through tools, mounts or the program itself"


async def test_reading_stdin_says_the_sandbox_has_none(
    make_codeact: Callable[..., CodeAct],
) -> None:
    # input() failed with a bare "EOF when reading a line", and sys.stdin.read() gave ''
    # that a program would take for its data.
    codeact = make_codeact()
    result = await codeact.execute('name = input("name? ")')
    assert result.error is not None
    assert (result.error.type, result.error.message) == ("EOFError", NO_STDIN)
    assert result.error.traceback.endswith(f"EOFError: {NO_STDIN}\n")
    assert result.error.lineno == 1
    code = """
import sys
for label, read in [("input", input), ("read", sys.stdin.read),
                    ("readline", sys.stdin.readline), ("lines", lambda: list(sys.stdin)),
                    ("bytes", sys.stdin.buffer.read)]:
    try:
        read()
    except EOFError as e:  # a program that handles the end of its input still does
        print(label, e)
sys.stdin.isatty()
"""
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert result.stdout == "".join(
        f"{label} {NO_STDIN}\n" for label in ("input", "read", "readline", "lines", "bytes")
    )
    assert result.value is False
