"""Deep recursion in a program never takes the host process down, whatever its threads' stacks.

A wasm guest runs on the stack of the host thread that calls it, and wasmtime lets it use a
fixed share of that stack, checked against where the call began, not against the thread's
real size. An application that made its threads' stacks small (`threading.stack_size`,
`ulimit -s`) therefore had its whole process killed (SIGSEGV) by a program that nests a
value a few thousand deep and prints it. Each case runs in a child process with small
thread stacks, so that a crash fails the test instead of the test run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.timeout(300)

DEEP = {
    "repr_of_a_deep_list": "a = []\nfor i in range(50000):\n    a = [a]\nprint(len(repr(a)))",
    "json_of_a_deep_dict": (
        "import json\na = {}\nfor i in range(50000):\n    a = {'k': a}\nprint(len(json.dumps(a)))"
    ),
    "a_deep_value_left_as_the_result": "a = []\nfor i in range(50000):\n    a = [a]\na",
    "python_recursion_past_a_raised_limit": (
        "import sys\nsys.setrecursionlimit(10**6)\ndef f(n):\n    return f(n + 1)\nf(0)"
    ),
    "a_deeply_nested_expression": "eval('(' * 100000 + ')' * 100000)",
}

_CHILD = """
import asyncio, json, sys, threading
threading.stack_size(256 * 1024)  # the application's choice, before codeact starts a thread
from codeact import CodeAct, Limits

async def main():
    codeact = CodeAct(backend=sys.argv[1], limits=Limits(wall_time=20, memory_mb=64))
    seen = {}
    for name, code in json.loads(sys.argv[2]).items():
        result = await codeact.execute(code)
        seen[name] = [result.ok, result.error.type if result.error else None]
    after = await codeact.execute("print(1)")
    seen["after"] = [after.ok, after.stdout]
    print(json.dumps(seen))

asyncio.run(main())
"""


def test_deep_recursion_stops_the_program_not_the_host(
    backend_name: str, request: pytest.FixtureRequest
) -> None:
    if backend_name == "wasm":
        request.getfixturevalue("wasm_ready")  # the child loads the guest built for the run

    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_CHILD), backend_name, json.dumps(DEEP)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert child.returncode == 0, f"the host process died ({child.returncode}): {child.stderr}"
    seen = json.loads(child.stdout.strip().splitlines()[-1])
    assert seen.pop("after") == [True, "1\n"]
    for name, (ok, error) in seen.items():
        assert ok or error, f"{name}: failed without an error"  # finished, or said why
