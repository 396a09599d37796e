"""Bytecode for the Wasm guest's packages, compiled once by the guest itself.

The guest cannot write into its read-only package tree, so without this every run would compile
each imported module from source again (`import tabulate` alone took about 230 ms per run).
Once per installed tree, a program of ours runs in the guest with the tree mounted read-write
and writes unchecked-hash ``.pyc`` files for the guest's CPython into ``__pycache__`` folders;
the runs then load those. The host never writes or reads them itself.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
from pathlib import Path

from .._paths import file_lock
from ..errors import ConfigurationError
from ..policy.limits import Limits
from ..policy.mounts import Mount
from ..policy.packages import PACKAGES_PATH, PackageGrant
from ..sandbox.packages.resolve import WASM_PYTHON

__all__ = ["ensure_guest_bytecode"]

_MARK = f".codeact-bytecode-{WASM_PYTHON}"
_WORK = "/compile"
_PROGRAM = f"""
import os, importlib.util, importlib._bootstrap_external as external
count = 0
for folder, dirs, files in os.walk({_WORK!r}):
    dirs[:] = [d for d in dirs if d != "__pycache__" and not d.endswith(".dist-info")]
    for name in files:
        if not name.endswith(".py"):
            continue
        path = os.path.join(folder, name)
        with open(path, "rb") as f:
            source = f.read()
        try:
            code = compile(source, {PACKAGES_PATH!r} + path[len({_WORK!r}):], "exec",
                           dont_inherit=True)
        except (SyntaxError, ValueError):
            continue  # the import will report it, as it would have without bytecode
        data = external._code_to_hash_pyc(code, importlib.util.source_hash(source), False)
        cache = importlib.util.cache_from_source(path)
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        with open(cache, "wb") as f:
            f.write(data)
        count += 1
with open(os.path.join({_WORK!r}, {_MARK!r}), "w") as f:
    f.write(str(count))
count
"""


def ensure_guest_bytecode(grant: PackageGrant) -> None:
    """Compile `grant`'s modules for the Wasm guest unless that was done before."""
    tree = Path(grant.tree)
    if (tree / _MARK).exists():
        return
    with file_lock(tree.parent / ".bytecode.lock"):
        if (tree / _MARK).exists():
            return
        print("codeact: compiling the packages for the Wasm guest (once)...", file=sys.stderr)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # callers may be in a loop
            pool.submit(asyncio.run, _compile(tree)).result()


async def _compile(tree: Path) -> None:
    from .codeact import CodeAct

    codeact = CodeAct(
        backend="wasm",
        file_mounts=[Mount(tree, _WORK, mode="rw")],
        limits=Limits(wall_time=600, memory_mb=1024),
    )
    result = await codeact.execute(_PROGRAM)
    if not result.ok:
        message = result.error.message if result.error else "no result"
        raise ConfigurationError(
            f"packages: compiling {', '.join(_names(tree))} for the wasm guest failed: {message}"
        )


def _names(tree: Path) -> list[str]:
    return sorted(p.name.split("-")[0] for p in tree.glob("*.dist-info"))
