#!/usr/bin/env python3
"""Where the wall time of a fresh wasm execution goes, phase by phase (a markdown table).

    .venv/bin/python scripts/fresh_phases.py [--runs 300] [--pace 0.01]

`print(1)` through `CodeAct.execute`, `--pace` seconds apart as in `codeact bench sandbox`,
with a `MockBackend` run the same way first (the host's own pipeline, no sandbox, no thread).
Each phase is the p50 over the runs of the time between two points of the wasm path, read
with `time.perf_counter` by wrappers this script puts around the backend's functions:

* pipeline before the backend: `execute` until `WasmBackend.run` starts;
* into the worker thread: until `_run_blocking` starts on the backend's thread;
* before the guest: taking an instance from the pool, the request's JSON, the store's limits;
* the guest call: the guest's `run` export, CPython in the instance, report included;
* after the guest: the report parsed, /output listed, the instance handed back to the pool;
* back on the event loop: `_run_blocking` returning until `WasmBackend.run` resumes;
* pipeline after the backend: until `execute` returns.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from codeact import CodeAct
from codeact.sandbox.mock import MockBackend
from codeact.sandbox.wasm import backend as wasm_backend

_marks: dict[str, float] = {}


def _timed(start: str, end: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        _marks[start] = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _marks[end] = time.perf_counter()

    return timed


def _instrument() -> None:
    cls = wasm_backend.WasmBackend
    call = getattr(wasm_backend, "call_string_export")  # noqa: B009
    setattr(wasm_backend, "call_string_export", _timed("guest", "guest_end", call))  # noqa: B010
    setattr(cls, "_run_blocking", _timed("thread", "thread_end", cls._run_blocking))  # noqa: B010
    run = cls.run

    async def timed_run(self: Any, request: Any, channel: Any) -> Any:
        _marks["backend"] = time.perf_counter()
        try:
            return await run(self, request, channel)
        finally:
            _marks["backend_end"] = time.perf_counter()

    setattr(cls, "run", timed_run)  # noqa: B010


PHASES = (
    ("pipeline before the backend", "start", "backend"),
    ("into the worker thread", "backend", "thread"),
    ("before the guest", "thread", "guest"),
    ("the guest call", "guest", "guest_end"),
    ("after the guest", "guest_end", "thread_end"),
    ("back on the event loop", "thread_end", "backend_end"),
    ("pipeline after the backend", "backend_end", "end"),
    ("execute, in all", "start", "end"),
)


async def _runs(codeact: CodeAct, runs: int, pace: float) -> list[dict[str, float]]:
    await codeact.prepare()
    for _ in range(20):
        await codeact.execute("print(1)")
    samples = []
    for _ in range(runs):
        await asyncio.sleep(pace)
        _marks.clear()
        _marks["start"] = time.perf_counter()
        result = await codeact.execute("print(1)")
        _marks["end"] = time.perf_counter()
        if not result.ok:
            raise SystemExit(f"print(1) failed: {result.error}")
        samples.append(dict(_marks))
    return samples


async def main(runs: int, pace: float) -> None:
    mock = await _runs(CodeAct(backend=MockBackend(lambda code, call: None)), runs, pace)
    _instrument()
    wasm = await _runs(CodeAct(backend="wasm"), runs, pace)
    print(f"p50 of {runs} runs of print(1), {pace * 1000:g} ms apart; ms\n")
    print("| phase | wasm |\n|---|---:|")
    for name, start, end in PHASES:
        print(f"| {name} | {statistics.median(s[end] - s[start] for s in wasm) * 1000:.3f} |")
    whole = statistics.median(s["end"] - s["start"] for s in mock) * 1000
    print(f"| execute on a MockBackend (the host's pipeline alone) | {whole:.3f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--pace", type=float, default=0.01, help="seconds between runs")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.pace))
