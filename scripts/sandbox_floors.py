#!/usr/bin/env python3
"""The floors under the wasm sandbox's numbers: what its parts cost with nothing of ours
around them (prints a markdown table; see docs/performance.md).

    .venv/bin/python scripts/sandbox_floors.py [--runs 60]

Each row is a p50 over `--runs` samples of CPU time of the measuring thread
(`time.thread_time`) and of wall time, so that a loaded machine shows up as wall > CPU:

* instantiate: a Store with an empty WASI context and `Linker.instantiate` of the guest
  component on the pooling engine (what the pool pays per instance, before any warm-up);
* first call, cold / warmed: the guest's `run` export with `print(1)` in a new instance, and
  in one that ran our warm-up program once (what the pool hands out);
* hot call: the same call on an instance that already ran it three times (CPython in wasm,
  our runner, JSON request and report, nothing left to fault in);
* runner in the guest: `codeact_runner.run` timed by the guest itself in a loop (no
  component boundary);
* host call from the guest: a guest loop calling the `dispatch` import, answered by a host
  function that returns at once (component boundary both ways + our ctypes trampoline);
* ctypes round trip: Python -> C -> a Python CFUNCTYPE callback (the crossing a host call
  needs at least once);
* host pipeline: `WasmExecution.dispatch` -> `HostBridge` -> the tool, no guest;
* thread hop: `run_in_executor` round trip of a no-op on our `DaemonThreadPool`; and each
  way of it after 10 ms idle, as an execution meets it (a sleeping thread's wake-up), with
  the thread woken wherever the scheduler puts it and on the caller's CPU (what the pool does);
* compile in the guest: the order-totals program compiled by the guest's CPython through a
  syntax tree (`ast.parse`, then the tree) and from its text;
* parallelism: two threads each running a pure-compute program in their own instance against
  one thread, and two processes running a Python loop against one (what the machine gives);
  with how often a wasm thread blocked meanwhile (voluntary context switches: waiting for the
  GIL or a lock counts, being preempted by other work on the machine does not).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from codeact.bench.sandbox_bench import echo
from codeact.bridge.host import HostBridge
from codeact.policy.limits import Limits
from codeact.sandbox import placement
from codeact.sandbox.threads import DaemonThreadPool
from codeact.sandbox.wasm.execution import WasmExecution
from codeact.sandbox.wasm.fastcall import call_string_export
from codeact.sandbox.wasm.host_imports import set_current
from codeact.sandbox.wasm.runtime import WasmRuntime
from codeact.tools import ToolSet
from codeact.workloads import order_totals

TOOLS = [echo, *order_totals.TOOLS]


class _Host:
    """The guest's imports answered at once (no pipeline, no tools)."""

    def __init__(self) -> None:
        self.err: list[str] = []

    def dispatch(self, name: str, args_json: str) -> tuple[bool, str]:
        return True, "1"

    def start_call(self, name: str, args_json: str) -> int | str:
        return "no"

    def wait_calls(self, timeout_ms: int) -> str:
        return "[]"

    def sleep(self, ms: int) -> None:
        pass

    def write_output(self, stream: int, text: str) -> None:
        if stream == 2:
            self.err.append(text)

    def http_request(self, request_json: str) -> tuple[bool, str]:
        return False, "{}"

    def write_raw(self, stream: int, data: bytes) -> None:
        pass

    def check_time(self) -> int:
        return 1000

    def host_failed(self, exc: BaseException) -> None:
        raise RuntimeError(f"host function failed: {exc}")


def _request(code: str) -> str:
    tools = [{"name": t.name, "positional": list(t.positional_params)} for t in TOOLS]
    return json.dumps({"code": code, "tools": tools})


def _p50(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return (
        statistics.median(c for c, _ in samples) * 1000,
        statistics.median(w for _, w in samples) * 1000,
    )


def _timed(fn: Callable[..., Any], *args: Any) -> tuple[float, float]:
    """Thread and wall seconds of fn(*args); the arguments are bound now, as a loop's values."""
    c, w = time.thread_time(), time.perf_counter()
    fn(*args)
    return time.thread_time() - c, time.perf_counter() - w


def _call(rt: WasmRuntime, prepared: Any, code: str) -> str:
    host = _Host()
    set_current(host)
    try:
        return call_string_export(prepared.run, prepared.store, code)
    finally:
        set_current(None)


def _guest_loop(rt: WasmRuntime, body: str, n: int, *, setup: str = "") -> float:
    """Microseconds per iteration of `body`, timed inside the guest (after `setup`)."""
    code = (
        "import sys, time\n"
        "r = sys.modules['codeact_runner']; g = sys.modules['codeact_guest']\n"
        f"{setup}\n"
        f"REQ = {_request('print(1)')!r}\n"
        "out = sys.stdout\n"
        f"t = time.perf_counter()\nfor _ in range({n}):\n    {body}\n"
        "sys.stdout = out\n"
        f"sys.__stderr__.write(repr((time.perf_counter() - t) / {n} * 1e6) + '\\n')\n"
    )
    prepared = rt.instantiate(warm=True)
    host = _Host()
    set_current(host)
    try:
        call_string_export(prepared.run, prepared.store, _request(code))
    finally:
        set_current(None)
        prepared.close()
    return float("".join(host.err).strip())


def wasm_rows(rt: WasmRuntime, runs: int) -> list[tuple[str, float, float]]:
    print1 = _request("print(1)")
    rows: list[tuple[str, float, float]] = []
    inst, cold, warm, hot = [], [], [], []
    for _ in range(runs):
        holder: list[Any] = []
        inst.append(_timed(lambda h: h.append(rt.instantiate(warm=False)), holder))
        prepared = holder[0]
        cold.append(_timed(_call, rt, prepared, print1))
        prepared.close()
        prepared = rt.instantiate(warm=True)
        warm.append(_timed(_call, rt, prepared, print1))
        for _ in range(2):
            _call(rt, prepared, print1)
        hot.append(_timed(_call, rt, prepared, print1))
        prepared.close()
    rows.append(("instantiate (Store + Linker.instantiate, pooled)", *_p50(inst)))
    rows.append(("first call print(1), cold instance", *_p50(cold)))
    rows.append(("first call print(1), warmed instance (the pool's)", *_p50(warm)))
    rows.append(("hot call print(1) (4th call, same instance)", *_p50(hot)))
    runner = _guest_loop(rt, "r.run(REQ)", 200) / 1000
    rows.append(("runner.run(print(1)) inside the guest, in a loop", runner, runner))
    bare = _guest_loop(rt, "g._host.sleep(0)", 500) / 1000
    rows.append(("host call from the guest, an integer in, nothing out (sleep(0))", bare, bare))
    call = _guest_loop(rt, "g._tools.dispatch('4 echo{\"i\": 1}')", 500) / 1000
    rows.append(("host call from the guest (import answered at once)", call, call))
    tool = _guest_loop(rt, "echo(i=1)", 500) / 1000
    rows.append(("a tool call in the guest, echo(i=1) (host answers at once)", tool, tool))
    program = f"import ast\nP = {order_totals.PROGRAM!r}"
    tree = _guest_loop(rt, "compile(ast.parse(P), 'p', 'exec')", 100, setup=program) / 1000
    rows.append(("compile the order-totals program in the guest, via a syntax tree", tree, tree))
    text = _guest_loop(rt, "compile(P, 'p', 'exec')", 100, setup=program) / 1000
    rows.append(("compile the order-totals program in the guest, from its text", text, text))
    return rows


def ctypes_round_trip(runs: int) -> tuple[float, float]:
    proto = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)
    callback = proto(lambda x: x)
    fn = ctypes.cast(callback, proto)
    n = 2000
    samples = []
    for _ in range(runs):
        samples.append(_timed(lambda: [fn(1) for _ in range(n)]))
    c, w = _p50(samples)
    return c / n, w / n


def host_pipeline(runs: int) -> tuple[float, float]:
    async def main() -> list[tuple[float, float]]:
        loop = asyncio.get_running_loop()
        tools = ToolSet(TOOLS)
        limits = Limits()
        n = 150

        def work() -> list[tuple[float, float]]:
            out = []
            for _ in range(max(5, runs // 6)):
                bridge = HostBridge(tools, limits, loop)
                execution = WasmExecution(bridge, limits)
                bridge.begin()
                out.append(
                    _timed(lambda e: [e.dispatch("echo", '{"i": 1}') for _ in range(n)], execution)
                )
                bridge.finish()
            return [(c / n, w / n) for c, w in out]

        return await asyncio.to_thread(work)

    return _p50(asyncio.run(main()))


def thread_hop(runs: int) -> tuple[float, float]:
    async def main() -> list[tuple[float, float]]:
        pool = DaemonThreadPool("floor")
        loop = asyncio.get_running_loop()
        out = []
        for _ in range(runs * 4):
            await asyncio.sleep(0.002)
            c, w = time.thread_time(), time.perf_counter()
            await loop.run_in_executor(pool, lambda: None)
            out.append((time.thread_time() - c, time.perf_counter() - w))
        pool.shutdown()
        return out

    return _p50(asyncio.run(main()))


def wake_ups(runs: int, *, near: bool) -> tuple[float, float]:
    """Wall microseconds of a `run_in_executor` hop into a worker thread and back out, each
    after 10 ms with nothing running: what waking a sleeping thread costs on this machine,
    with the thread woken on the caller's CPU (`near`, what the pool does) or wherever the
    scheduler puts it."""
    saved = placement.ENABLED
    placement.ENABLED = near and saved

    async def main() -> tuple[float, float]:
        pool = DaemonThreadPool("floor")
        loop = asyncio.get_running_loop()
        into, back = [], []
        for _ in range(runs * 2):
            await asyncio.sleep(0.01)
            started = time.perf_counter()
            inside = await loop.run_in_executor(pool, time.perf_counter)
            ended = time.perf_counter()
            into.append(inside - started)
            back.append(ended - inside)
        pool.shutdown()
        return statistics.median(into) * 1000, statistics.median(back) * 1000

    try:
        return asyncio.run(main())
    finally:
        placement.ENABLED = saved


_LOOP = "import time\nt=time.perf_counter()\nx=0\nwhile time.perf_counter()-t<0.7: x+=1\nprint(x)"


def parallelism(rt: WasmRuntime, n: int = 4) -> tuple[float, float, int]:
    """(2 threads / 1 thread of pure-compute wasm, 2 processes / 1 process of a Python loop,
    the most times a wasm thread blocked while it ran)."""
    code = _request("x = 0\nfor i in range(150000):\n    x += i\n")

    def worker(instances: list[Any], out: list[float]) -> None:
        started = time.perf_counter()
        before = _voluntary_switches()
        for prepared in instances:
            _call(rt, prepared, code)
        out.append(time.perf_counter() - started)
        blocked.append(_voluntary_switches() - before)

    blocked: list[int] = []

    rt.ticker.acquire()
    try:
        out: list[float] = []
        one = [rt.instantiate(warm=True) for _ in range(n)]
        worker(one, out)
        per_one = n / out[0]
        two = [[rt.instantiate(warm=True) for _ in range(n)] for _ in range(2)]
        out = []
        threads = [threading.Thread(target=worker, args=(two[i], out)) for i in range(2)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        per_two = 2 * n / (time.perf_counter() - started)
        for prepared in [*one, *two[0], *two[1]]:
            prepared.close()
    finally:
        rt.ticker.release()

    def procs(k: int) -> int:
        ps = [
            subprocess.Popen([sys.executable, "-c", _LOOP], stdout=subprocess.PIPE)
            for _ in range(k)
        ]
        return sum(int(p.communicate()[0]) for p in ps)

    return per_two / per_one, procs(2) / procs(1), max(blocked)


def _voluntary_switches() -> int:
    """Times this thread blocked (waited on a lock, the GIL, I/O): preemption is not counted."""
    path = f"/proc/self/task/{threading.get_native_id()}/status"
    with open(path) as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches"):
                return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    rt = WasmRuntime.shared()
    rows = wasm_rows(rt, args.runs)
    rows.append(("ctypes round trip (Python -> C -> Python callback)", *ctypes_round_trip(20)))
    rows.append(("host pipeline per tool call (no guest)", *host_pipeline(args.runs)))
    rows.append(("thread hop (run_in_executor of a no-op)", *thread_hop(args.runs)))
    for near, where in ((False, "woken anywhere"), (True, "woken on the caller's CPU")):
        into, back = wake_ups(args.runs, near=near)
        rows.append((f"hop into a worker thread after 10 ms idle, {where} (wall)", into, into))
        rows.append((f"hop back to the event loop after 10 ms idle, {where} (wall)", back, back))
    threads, processes, blocked = parallelism(rt)
    print(f"load {load}; p50 of {args.runs} runs; ms")
    print()
    print("| floor | CPU ms | wall ms |")
    print("|---|---:|---:|")
    for name, cpu, wall in rows:
        print(f"| {name} | {cpu:.4f} | {wall:.4f} |")
    print()
    print(f"2 threads / 1 thread, pure-compute wasm, each its own instance: {threads:.2f}")
    print(f"times a wasm thread blocked (GIL, a lock) while they ran: {blocked}")
    print(f"2 processes / 1 process, a Python loop (what the machine gives now): {processes:.2f}")


if __name__ == "__main__":
    main()
