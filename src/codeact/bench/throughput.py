"""`codeact bench sandbox`, second table: executions per second and memory.

Throughput is what a team running thousands of programs (evaluations, RL rollouts) pays per
core: one `CodeAct`, `callers` coroutines each awaiting `execute` back to back, no pause
between runs (so the backend's pool refills on the same cores as the programs it serves).
Two callers on two cores should reach nearly twice one. The table also gives what the
machine's cores give at that moment (`machine_parallelism`: two spinning processes against
one), which bounds the 2-caller ratio whatever the sandbox does; on a shared machine it is
often far below 2.

Memory is the proportional set size (PSS: shared pages split among the processes sharing
them) of the anonymous and shared-memory pages of this process and every process below it,
read from ``/proc``. File pages (the interpreter, libraries, the compiled guest's file) are
left out: other processes that map the same files would change their share (a pool measured
as -18 MB while a test run elsewhere loaded the same guest), and they cost the same whether
a pool exists or not.

* ``pool``: what creating a backend of its own, preparing it and letting its pool fill adds
  (for wasm: the warm instances; the engine and compiled guest are shared by the process and
  loaded by the first backend; for jail: the zygote and its pre-forked children);
* ``execution``: the peak above that while the order-totals program runs back to back,
  sampled every millisecond (one execution in flight plus what its backend makes for the
  next one).

CPU time is counted the same way, over the process tree (`tree_cpu_seconds`), so that what
an execution costs off the caller's path is in it: the pool's thread making, freeing and
copying in instances (wasm), the zygote and the children it forks and reaps (jail). From it
the table gives how many cores one caller keeps busy, and what that leaves for a second:
at the CPU per execution of one caller, two make at most ``machine / cores busy with one``
times the executions of one, since together they cannot get more than the machine's cores
(`machine_parallelism`). Two callers beat that only where an execution costs them less CPU
than it costs one (a pool kept busy skips work it does for one caller: the wasm pool's
warm-up), which the two CPU rows show.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..runtime import CodeAct
from ..workloads import order_totals

__all__ = [
    "PROGRAMS",
    "ThroughputResult",
    "bench_memory",
    "bench_throughput",
    "child_processes",
    "load_table",
    "machine_parallelism",
    "measure_load",
    "tree_cpu_seconds",
    "tree_pss_mb",
]

PROGRAMS = {"print(1)": "print(1)", "order_totals": order_totals.PROGRAM}
SETTLE = 0.3  # seconds for a pool to fill before memory is read
PACE = 0.02  # seconds between the executions that fill a pool for the memory reading


@dataclass(frozen=True)
class ThroughputResult:
    backend: str
    program: str
    callers: int
    executions: int
    per_second: float
    #: CPU time of the process tree per execution (NaN where ``/proc`` does not say).
    cpu_ms: float = float("nan")

    @property
    def cores_busy(self) -> float:
        """CPU seconds per second while it ran: how many cores the case kept busy."""
        return self.cpu_ms * self.per_second / 1000

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "case": f"throughput {self.program} x{self.callers}",
            "executions": self.executions,
            "per_second": round(self.per_second, 1),
            "cpu_ms": round(self.cpu_ms, 3),
            "cores_busy": round(self.cores_busy, 3),
        }


async def _check(codeact: CodeAct, code: str) -> None:
    result = await codeact.execute(code)
    if not result.ok:
        raise RuntimeError(f"benchmark program failed on {codeact.backend.name}: {result.error}")


async def _throughput(codeact: CodeAct, code: str, callers: int, each: int) -> tuple[float, float]:
    """Executions per second, and CPU milliseconds per execution (the process tree's)."""

    async def caller() -> None:
        for _ in range(each):
            await _check(codeact, code)

    cpu = tree_cpu_seconds()
    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    elapsed = time.perf_counter() - started
    runs = callers * each
    return runs / elapsed, (tree_cpu_seconds() - cpu) * 1000 / runs


async def bench_throughput(name: str, runs: int, tools: list[Any]) -> list[ThroughputResult]:
    """Executions per second of each program in `PROGRAMS`, with 1 and 2 concurrent callers
    on one `CodeAct` (`runs` executions per caller of print(1), an eighth of that of the
    order-totals program)."""
    codeact = CodeAct(tools=tools, backend=name)
    await codeact.prepare()
    for _ in range(10):
        await _check(codeact, "print(1)")
    results = []
    for program, code in PROGRAMS.items():
        each = max(5, runs if program == "print(1)" else runs // 8)
        for callers in (1, 2):
            await asyncio.sleep(SETTLE)  # start each case with the pool full
            per_second, cpu_ms = await _throughput(codeact, code, callers, each)
            results.append(
                ThroughputResult(name, program, callers, callers * each, per_second, cpu_ms)
            )
    return results


# -- memory -------------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            text = (task / "children").read_text()
        except OSError:
            continue
        found += [int(p) for p in text.split()]
    return found


def child_processes(pid: int | None = None) -> frozenset[int]:
    """The processes that `pid` (default: this one) started and that run now."""
    return frozenset(_children(os.getpid() if pid is None else pid))


def _pss_kb(pid: int) -> int:
    """The PSS of `pid`'s anonymous and shared-memory pages in kB (all of its PSS on kernels
    older than 5.x, whose ``smaps_rollup`` does not split it)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    fields: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key.startswith("Pss") and rest.strip():
            fields[key] = int(rest.split()[0])
    if "Pss_Anon" in fields:
        return fields["Pss_Anon"] + fields.get("Pss_Shmem", 0)
    return fields.get("Pss", 0)


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(pid: int) -> float:
    """User and system time of `pid` and of its children it has waited for (its reaped
    children's; fields 14-17 of ``/proc/PID/stat``), in seconds; 0 if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2 :].split()  # after the command name, which may hold spaces
    return sum(int(f) for f in fields[11:15]) / _CLOCK_TICKS


def tree_cpu_seconds(pid: int | None = None, *, skip: frozenset[int] = frozenset()) -> float:
    """CPU time (user and system) of process `pid` (default: this one), of all its living
    descendants and of the children each of them reaped, in seconds; NaN where ``/proc``
    does not say. A process that ended unreaped, or whose parent is gone, is not counted;
    nor are the processes in `skip` and theirs (a local Ray's, started by this one)."""
    root = os.getpid() if pid is None else pid
    if not Path(f"/proc/{root}/stat").exists():
        return float("nan")
    own = os.getpid()
    return sum(_own_cpu_seconds() if p == own else _cpu_seconds(p) for p in _tree(root, skip))


def _own_cpu_seconds() -> float:
    """`_cpu_seconds` of this process, to the microsecond (``/proc`` counts clock ticks)."""
    import resource  # Unix only: reached only where /proc exists

    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime


def tree_pss_mb(pid: int | None = None) -> float:
    """PSS of process `pid` (default: this one) and all its descendants, in MB; NaN where
    ``/proc`` does not say."""
    root = os.getpid() if pid is None else pid
    if not Path(f"/proc/{root}/smaps_rollup").exists():
        return float("nan")
    return sum(_pss_kb(p) for p in _tree(root)) / 1024


def _tree(root: int, skip: frozenset[int] = frozenset()) -> Iterator[int]:
    """`root` and every process below it now, each once, but those under `skip` (from
    ``/proc``)."""
    todo, seen = [root], set(skip)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        yield p
        todo += _children(p)


class _PeakSampler:
    """Reads `tree_pss_mb` every `interval` seconds on a thread; `peak` is the largest."""

    def __init__(self, interval: float = 0.001) -> None:
        self.peak = 0.0
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="codeact-bench-mem", daemon=True)

    def __enter__(self) -> _PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, tree_pss_mb())


async def bench_memory(name: str, runs: int, tools: list[Any]) -> dict[str, float]:
    """``pool_mb`` and ``execution_mb`` (see the module's docstring) for backend `name`.

    Measured on a backend instance of its own (not the process's shared one), so that the
    pool's memory is counted from nothing; `runs` order-totals executions are sampled."""
    from ..sandbox.registry import create_backend

    await asyncio.sleep(SETTLE)  # what earlier cases left to free is freed before `before`
    gc.collect()
    before = tree_pss_mb()
    backend = create_backend(name)
    codeact = CodeAct(tools=tools, backend=backend)
    try:
        await codeact.prepare()
        for _ in range(5):  # apart, as model turns are: the pool stays warm (see wasm/pool.py)
            await _check(codeact, "print(1)")
            await asyncio.sleep(PACE)
        await asyncio.sleep(SETTLE)
        warm = tree_pss_mb()
        with _PeakSampler() as sampler:
            for _ in range(max(5, runs // 8)):
                await _check(codeact, order_totals.PROGRAM)
        return {"pool_mb": warm - before, "execution_mb": max(0.0, sampler.peak - warm)}
    finally:
        backend.close()


# -- what the machine gives -----------------------------------------------------------------
_SPIN = (
    "import time\nt = time.perf_counter()\nx = 0\n"
    "while time.perf_counter() - t < {s}:\n    x += 1\nprint(x)"
)


def machine_parallelism(seconds: float = 0.5) -> float:
    """Work done by two processes spinning at once over the work of one: how much of a
    second core this machine gives right now (2.0 on two idle cores; less when others run).
    It bounds what two callers can reach, whatever the sandbox does."""

    def spin(processes: int) -> int:
        code = _SPIN.format(s=seconds)
        procs = [
            subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
            for _ in range(processes)
        ]
        return sum(int(p.communicate()[0] or 0) for p in procs)

    one = spin(1)
    return spin(2) / one if one else float("nan")


# -- the table ----------------------------------------------------------------------------
async def measure_load(name: str, runs: int) -> dict[str, object]:
    """Throughput and memory of backend `name`, as one JSON-ready mapping (with what the
    machine's second core gave, measured right after the throughput)."""
    from .sandbox_bench import echo

    tools = [echo, *order_totals.TOOLS]
    throughput = await bench_throughput(name, runs, tools)
    machine = await asyncio.to_thread(machine_parallelism)
    memory = await bench_memory(name, runs, tools)
    return {"throughput": [t.to_dict() for t in throughput], "machine_2_over_1": machine, **memory}


def load_table(loads: dict[str, dict[str, Any]]) -> str:
    """Executions per second (1 and 2 callers, and 2 over 1) and memory, one column per
    backend; the target: 2 callers reach 1.7x of 1 on 2 cores."""
    from .stats import markdown_table

    names = list(loads)
    machine = [loads[n].get("machine_2_over_1") for n in names]
    cases = {n: {t["case"]: t for t in loads[n]["throughput"]} for n in names}
    rows: list[list[object]] = []
    for program in PROGRAMS:
        first = [cases[n].get(f"throughput {program} x1", {}) for n in names]
        second = [cases[n].get(f"throughput {program} x2", {}) for n in names]
        one = [c.get("per_second") for c in first]
        two = [c.get("per_second") for c in second]
        busy = [_positive(c.get("cores_busy")) for c in first]
        rows.append([f"{program}: executions/s, 1 caller", *one, ""])
        rows.append([f"{program}: executions/s, 2 callers", *two, ""])
        rows.append(_ratio_row(f"{program}: 2 callers / 1", two, one, ">= 1.7"))
        for label, case in (("1 caller", first), ("2 callers", second)):
            cpu = [_positive(c.get("cpu_ms")) for c in case]
            rows.append([f"{program}: CPU ms per execution, {label}", *cpu, ""])
        rows.append([f"{program}: cores busy, 1 caller", *busy, ""])
        label = f"{program}: 2 callers / 1 if CPU per execution stays (machine / cores busy)"
        rows.append(_ratio_row(label, machine, busy, ""))
    rows.append(["machine: 2 processes / 1 (cores it gives)", *machine, ""])
    rows.append(["memory: warm pool (MB, PSS anon)", *[loads[n]["pool_mb"] for n in names], ""])
    rows.append(
        [
            "memory: one execution (MB, peak PSS anon)",
            *[loads[n]["execution_mb"] for n in names],
            "",
        ]
    )
    return markdown_table(["throughput and memory", *names, "target"], rows)


def _ratio_row(label: str, over: list[Any], under: list[Any], target: str) -> list[object]:
    """A row of `over / under`, column by column; an empty cell where either is missing."""
    return [label, *[a / b if a and b else None for a, b in zip(over, under, strict=True)], target]


def _positive(value: object) -> float | None:
    """`value` as a number, or None (an empty cell) where it is missing, not a number
    (NaN: no ``/proc``) or not above 0."""
    if not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        return None
    return float(value)
