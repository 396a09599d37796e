#!/usr/bin/env python3
"""Soak: many executions on one CodeAct, hostile programs between ordinary ones; host memory.

    .venv/bin/python scripts/soak.py [--runs 5000] [--backend wasm] [--every 250] [--hostile 10]

Every `--hostile`-th execution runs one of the hostile programs of issue 11 (in turn): huge
call arguments sent again and again, an unknown tool with megabytes of nested arguments, a
tool result far over its limit, tools raising SystemExit / KeyboardInterrupt / StopIteration /
CancelledError through `call_tool_async`, a program that asks for approval again after every
denial, a forged deeply nested report, and sync tools stuck past their timeout. The others are
ordinary programs that call tools. Every `--every` runs it prints a row: runs so far, the
host's resident memory (VmRSS), its change since the first row, its peak (VmHWM), threads,
and how many runs ended other than expected. Memory that stays flat after warm-up is the
point; an unexpected end (an exception out of execute(), a wrong result) is counted and shown.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from pathlib import Path
from typing import Any

from codeact import Approval, ApprovalRequest, CodeAct, ExecutionResult, Limits, tool


@tool
def add(a: int, b: int) -> int:
    """a + b."""
    return a + b


@tool
def echo(value: Any = None) -> Any:
    """Returns its argument."""
    return value


@tool
def big_result(size: int) -> str:
    """Returns `size` characters."""
    return "r" * size


@tool
def raise_named(kind: str) -> None:
    """Raises the exception named `kind`."""
    raise {
        "SystemExit": SystemExit(1),
        "KeyboardInterrupt": KeyboardInterrupt(),
        "StopIteration": StopIteration(),
        "CancelledError": asyncio.CancelledError(),
        "GeneratorExit": GeneratorExit(),
    }[kind]


@tool(timeout=0.2)
def stuck() -> str:
    """Sleeps past its timeout."""
    time.sleep(1.0)
    return "late"


@tool(approval_mode="always_require")
def send(to: str) -> str:
    """Needs approval."""
    return f"sent {to}"


ORDINARY = "total = 0\nfor i in range(5):\n    total = call_tool('add', a=total, b=i)\ntotal"

# name: (code, what a correct end looks like)
HOSTILE: dict[str, str] = {
    "reused_huge_argument": (
        "s = 'a' * (6 * 1024 * 1024)\nn = 0\nfor i in range(12):\n    try:\n"
        "        call_tool('echo', value=s)\n    except ToolError:\n        n += 1\nn"
    ),
    "unknown_tool_nested_arguments": (
        "try:\n    call_tool('nope', v=[{}] * 900000)\nexcept ToolError:\n    pass\n1"
    ),
    "huge_result": (
        "try:\n    call_tool('big_result', size=40 * 1024 * 1024)\nexcept ToolError:\n    pass\n1"
    ),
    "base_exceptions_through_call_tool_async": (
        "import asyncio\nn = 0\n"
        "for kind in ['SystemExit', 'KeyboardInterrupt', 'StopIteration', 'CancelledError',"
        " 'GeneratorExit']:\n    try:\n        await call_tool_async('raise_named', kind=kind)\n"
        "    except ToolError:\n        n += 1\nn"
    ),
    "approval_loop": (
        "for i in range(150):\n    try:\n        call_tool('send', to='x')\n"
        "    except ToolDenied:\n        pass\n1"
    ),
    "forged_deep_report": "import json\njson.dumps = lambda *a, **k: '[' * 30000 + ']' * 30000\n1",
    "stuck_tools": (
        "import asyncio\nawait asyncio.gather(*(call_tool_async('stuck') for _ in range(4)))"
    ),
}

EXPECTED = {  # (ok, value) or (False, limit) of a correct end
    "reused_huge_argument": (True, 12),
    "unknown_tool_nested_arguments": (True, 1),
    "huge_result": (True, 1),
    "base_exceptions_through_call_tool_async": (True, 5),
    "approval_loop": (False, "approvals"),
    "forged_deep_report": (False, None),
    "stuck_tools": (False, "tool_timeout"),
}


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    return 0


def _as_expected(name: str, result: ExecutionResult) -> bool:
    if name == "ordinary":
        return result.ok and result.value == 10
    ok, what = EXPECTED[name]
    if ok:
        return result.ok and result.value == what
    return not result.ok and (
        what is None or (result.error is not None and result.error.limit == what)
    )


async def _deny(request: ApprovalRequest) -> Approval:
    return Approval(False, "no")


async def soak(runs: int, backend: str, every: int, hostile_every: int) -> int:
    codeact = CodeAct(
        tools=[add, echo, big_result, raise_named, stuck, send],
        backend=backend,
        approval_handler=_deny,
        limits=Limits(wall_time=10, tool_calls=200),
    )
    await codeact.prepare()
    names = list(HOSTILE)
    unexpected: dict[str, int] = {}
    first_rss: int | None = None
    hostile_runs = 0
    started = time.monotonic()
    print(f"soak: {runs} runs on {backend}, a hostile one every {hostile_every}", flush=True)
    print(f"{'runs':>6} {'hostile':>7} {'rss MB':>7} {'change':>7} {'peak MB':>8} "
          f"{'threads':>7} {'unexpected':>10} {'seconds':>8}")  # fmt: skip
    for i in range(1, runs + 1):
        if i % hostile_every == 0:
            name = names[(i // hostile_every) % len(names)]
            code = HOSTILE[name]
            hostile_runs += 1
        else:
            name, code = "ordinary", ORDINARY
        try:
            result = await codeact.execute(code)
            good = _as_expected(name, result)
        except BaseException as exc:  # what must never happen: execute() raising
            print(f"run {i} ({name}): execute() raised {type(exc).__name__}: {exc}", flush=True)
            good = False
        if not good:
            unexpected[name] = unexpected.get(name, 0) + 1
        if i % every == 0 or i == runs:
            rss = _status("VmRSS")
            if first_rss is None:
                first_rss = rss
            print(
                f"{i:>6} {hostile_runs:>7} {rss:>7} {rss - first_rss:>+7} {_status('VmHWM'):>8} "
                f"{threading.active_count():>7} {sum(unexpected.values()):>10} "
                f"{time.monotonic() - started:>8.0f}",
                flush=True,
            )
    if unexpected:
        print(f"unexpected ends: {unexpected}")
    codeact.close()
    return 1 if unexpected else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--backend", default="wasm")
    parser.add_argument("--every", type=int, default=250, help="print a row every N runs")
    parser.add_argument("--hostile", type=int, default=10, help="every Nth run is hostile")
    args = parser.parse_args()
    return asyncio.run(soak(args.runs, args.backend, args.every, args.hostile))


if __name__ == "__main__":
    sys.exit(main())
