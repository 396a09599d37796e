"""Build the Wasm guest once per machine and keep its compiled form in the user cache.

Two artifacts, each built once and reused by every process:

* ``guest-<fingerprint>.wasm``: the component componentize-py makes from ``guest/``
  (about 10-20 s). The fingerprint covers the guest's sources and componentize-py's version.
* ``guest-<fingerprint>-<engine>.cwasm``: that component compiled by wasmtime's Cranelift
  (5-20 s), keyed also by the wasmtime version and the engine settings. Loading it takes
  milliseconds.

Concurrent processes wait for each other through a lock file; files appear atomically.

The guest has no files: the time zones that ``zoneinfo`` reads are the `tzdata` package's,
built into it as a module (`_write_tzdata`) when the host has that package.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..._paths import atomic_write, cache_dir, file_lock
from ..._progress import report
from ...errors import GuestBuildError

__all__ = [
    "GUEST_APP",
    "GUEST_DIR",
    "GUEST_WORLD",
    "build_guest",
    "compiled_guest_path",
    "guest_fingerprint",
    "guest_wasm_path",
    "load_component",
]

GUEST_DIR = Path(__file__).resolve().parent.parent / "guest" / "wasm"
#: The backend-neutral runner (codeact_runner.py), shared with the other backends.
RUNNER_DIR = Path(__file__).resolve().parent.parent / "guest" / "runtime"
GUEST_APP = "codeact_guest"
GUEST_WORLD = "sandbox"

Progress = Callable[[str], None]


def _stderr_progress(message: str) -> None:
    report(message)  # a line on stderr unless the program shows progress its own way


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


def guest_fingerprint() -> str:
    """Hash of everything the guest component is built from."""
    h = hashlib.sha256()
    for root in (GUEST_DIR, RUNNER_DIR):
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in (".py", ".wit"):
                h.update(path.relative_to(root.parent).as_posix().encode())
                h.update(path.read_bytes())
    h.update(f"componentize-py {_version('componentize-py')}".encode())
    h.update(f"tzdata {_version('tzdata')}".encode())
    return h.hexdigest()[:20]


#: The module the guest imports for its time zones (`codeact_guest`), made by `_write_tzdata`.
TZDATA_MODULE = "codeact_tzdata"


def _write_tzdata(folder: Path) -> bool:
    """Write `TZDATA_MODULE` into `folder` from the host's `tzdata` package: every zone's TZif
    file, each content once, in one zlib blob (about 50 KB; 200 KB once unpacked) with an
    index of where each zone's bytes are, and the names `available_timezones()` gives. False
    when the host has no tzdata (the guest then has no time zones)."""
    spec = importlib.util.find_spec("tzdata")
    if spec is None or not spec.submodule_search_locations:
        return False
    package = Path(next(iter(spec.submodule_search_locations)))
    root = package / "zoneinfo"
    blob = bytearray()
    at: dict[bytes, tuple[int, int]] = {}
    index: dict[str, tuple[int, int]] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix in (".py", ".pyc"):
            continue
        data = path.read_bytes()
        if not data.startswith(b"TZif"):
            continue  # zone1970.tab, tzdata.zi: not a zone
        if data not in at:
            at[data] = (len(blob), len(data))
            blob += data
        index[path.relative_to(root).as_posix()] = at[data]
    if not index:
        return False
    try:
        listed = (package / "zones").read_text(encoding="utf-8").split()
        zones = sorted(name for name in listed if name in index)
    except OSError:
        zones = sorted(index)
    packed = base64.b64encode(zlib.compress(bytes(blob), 9)).decode("ascii")
    (folder / f"{TZDATA_MODULE}.py").write_text(
        f'"""Time zones from tzdata {_version("tzdata")}, made by codeact\'s wasm build."""\n'
        f"INDEX = {index!r}\nZONES = {zones!r}\nBLOB = {packed!r}\n",
        encoding="utf-8",
    )
    return True


def guest_wasm_path() -> Path:
    return cache_dir("wasm") / f"guest-{guest_fingerprint()}.wasm"


def compiled_guest_path(engine_key: str) -> Path:
    key = hashlib.sha256(
        f"{engine_key}|wasmtime {_version('wasmtime')}|{platform.machine()}|{sys.platform}".encode()
    ).hexdigest()[:16]
    return cache_dir("wasm") / f"guest-{guest_fingerprint()}-{key}.cwasm"


def build_guest(*, force: bool = False, progress: Progress | None = _stderr_progress) -> Path:
    """Build the guest component unless the cache has it; return its path."""
    out = guest_wasm_path()
    if out.exists() and not force:
        return out
    with file_lock(out.with_suffix(".lock")):
        if out.exists() and not force:
            return out
        if progress:
            progress(
                "building the Wasm sandbox guest (once per machine; 20-70 s, more when busy)..."
            )
        started = time.monotonic()
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        extra = out.with_name(f".{out.name}.{os.getpid()}.tz")
        extra.mkdir(exist_ok=True)
        has_tz = _write_tzdata(extra)
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        cmd = [
            sys.executable,
            "-c",
            "import sys; from componentize_py import script; sys.exit(script())",
            "-d",
            str(GUEST_DIR / "wit"),
            "-w",
            GUEST_WORLD,
            "componentize",
            "-p",
            str(GUEST_DIR),
            "-p",
            str(RUNNER_DIR),
            *(["-p", str(extra)] if has_tz else []),
            GUEST_APP,
            "-o",
            str(tmp),
        ]
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise GuestBuildError(f"could not run componentize-py: {exc}") from exc
        finally:
            shutil.rmtree(extra, ignore_errors=True)
        if proc.returncode != 0 or not tmp.exists():
            tmp.unlink(missing_ok=True)
            detail = (proc.stderr or proc.stdout).strip()[-3000:]
            raise GuestBuildError(
                "componentize-py failed to build the sandbox guest "
                f"(exit {proc.returncode}):\n{detail}\n"
                "Check that componentize-py 0.25.1 is installed: "
                "pip install 'componentize-py==0.25.1'"
            )
        os.replace(tmp, out)
        if progress:
            progress(f"built the guest in {time.monotonic() - started:.0f} s")
    return out


def load_component(
    engine: Any,
    engine_key: str,
    *,
    progress: Progress | None = _stderr_progress,
) -> Any:
    """The compiled guest for `engine`: from the cache, or built and compiled now."""
    from wasmtime import WasmtimeError
    from wasmtime.component import Component

    cwasm = compiled_guest_path(engine_key)
    if cwasm.exists():
        try:
            return Component.deserialize_file(engine, str(cwasm))
        except WasmtimeError:
            cwasm.unlink(missing_ok=True)  # stale or damaged: compile again below
    wasm = build_guest(progress=progress)
    with file_lock(cwasm.with_suffix(".lock")):
        if cwasm.exists():
            return Component.deserialize_file(engine, str(cwasm))
        if progress:
            progress(
                "compiling the sandbox guest for this machine (once; 10-60 s, more when busy)..."
            )
        started = time.monotonic()
        try:
            component = Component.from_file(engine, str(wasm))
        except WasmtimeError as exc:
            raise GuestBuildError(f"wasmtime could not compile the guest {wasm}: {exc}") from exc
        atomic_write(cwasm, bytes(component.serialize()))
        if progress:
            progress(f"compiled the guest in {time.monotonic() - started:.0f} s")
        return component
