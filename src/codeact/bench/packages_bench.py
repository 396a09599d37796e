"""`codeact bench packages`: what granted packages cost per execution.

A sandbox is fresh for every execution, so a package's import happens in every run that uses
it (on ``jail`` the zygote imports the requested packages once, ahead of the runs, and each
child starts with them imported). Cases, each the median of `runs` executions:

* ``fresh (no packages)``: ``print(1)`` on the backend without packages (the reference);
* ``fresh (packages granted)``: ``print(1)`` with the packages granted (the grant's own cost);
* ``import NAME``: a program that imports one requested package and prints 1.

The import's cost is the difference between its row and the ``fresh (packages granted)`` row.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from ..policy.packages import PackageGrant
from ..runtime import CodeAct
from .sandbox_bench import PACE, CaseResult, _result

__all__ = ["bench_packages"]


async def _samples(codeact: CodeAct, code: str, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        await asyncio.sleep(PACE)
        started = time.perf_counter()
        result = await codeact.execute(code)
        samples.append((time.perf_counter() - started) * 1000)
        if not result.ok:
            raise RuntimeError(f"benchmark program failed: {result.error}")
    return samples


async def bench_packages(
    backend: str, grant: PackageGrant, imports: Sequence[str], runs: int
) -> list[CaseResult]:
    """The cases above on `backend`, with `grant` granted; one ``import`` row per name."""
    plain = CodeAct(backend=backend)
    granted = CodeAct(backend=backend, packages=grant)
    for codeact in (plain, granted):
        await codeact.prepare()
        await _samples(codeact, "print(1)", 10)  # pools and caches settle
    results = [
        _result(backend, "fresh (no packages)", await _samples(plain, "print(1)", runs)),
        _result(backend, "fresh (packages granted)", await _samples(granted, "print(1)", runs)),
    ]
    for name in imports:
        samples = await _samples(granted, f"import {name}\nprint(1)", runs)
        results.append(_result(backend, f"import {name}", samples))
    return results
