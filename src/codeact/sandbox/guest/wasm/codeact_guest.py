"""The wasm backend's guest: componentize-py builds this module into a component.

Everything imported at build time is part of the component's snapshot; a module not imported
here cannot be imported at run time (the guest has no files), so the standard library that
model code uses is imported below. The runner itself (`codeact_runner`) is shared with the
other backends; this module only connects it to the component's imports and exports.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any

_STDLIB = (
    "abc",
    "array",
    "ast",
    "asyncio",
    "base64",
    "binascii",
    "bisect",
    "calendar",
    "cmath",
    "codecs",
    "collections",
    "collections.abc",
    "colorsys",
    "contextlib",
    "contextvars",
    "copy",
    "copyreg",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "enum",
    "fnmatch",
    "fractions",
    "functools",
    "gc",
    "glob",
    "graphlib",
    "gzip",
    "hashlib",
    "heapq",
    "hmac",
    "html",
    "html.parser",
    "inspect",
    "io",
    "ipaddress",
    "itertools",
    "json",
    "keyword",
    "linecache",
    "locale",
    "math",
    "mimetypes",
    "numbers",
    "operator",
    "os",
    "os.path",
    "pathlib",
    "pickle",
    "pprint",
    "queue",
    "random",
    "re",
    "reprlib",
    "secrets",
    "shlex",
    "shutil",
    "socket",
    "sqlite3",
    "statistics",
    "string",
    "struct",
    "tempfile",
    "textwrap",
    "threading",
    "time",
    "tokenize",
    "tomllib",
    "traceback",
    "types",
    "typing",
    "unicodedata",
    "urllib",
    "urllib.error",
    "urllib.parse",
    "urllib.request",
    "urllib.response",
    "http",
    "http.client",
    "email",
    "email.message",
    "uuid",
    "warnings",
    "weakref",
    "xml",
    "xml.etree.ElementTree",
    "zipfile",
    "zlib",
    "zoneinfo",
    # What granted pure-Python packages commonly import (tabulate, dateutil, attrs, jinja2...),
    # and what importlib.metadata / importlib.resources import lazily, when first used.
    "__future__",
    "argparse",
    "configparser",
    "email.utils",
    "gettext",
    "html.entities",
    "importlib.abc",
    "importlib.machinery",
    "importlib.metadata",
    "importlib.resources",
    "importlib.util",
    "optparse",
    "platform",
    "pkgutil",
    "tarfile",
    "importlib.metadata._adapters",
    "importlib.metadata._collections",
    "importlib.metadata._functools",
    "importlib.metadata._itertools",
    "importlib.metadata._meta",
    "importlib.metadata._text",
    "importlib.readers",
    "importlib.resources._adapters",
    "importlib.resources._common",
    "importlib.resources._itertools",
    "importlib.resources._legacy",
    "importlib.resources.abc",
    "importlib.resources.readers",
    "email.parser",
    "email.feedparser",
    "email.header",
    "email.charset",
    "email.iterators",
    "email.encoders",
    "zoneinfo._common",
    "zoneinfo._tzpath",
    # Imported lazily by functions of the modules above (datetime.strptime, time.strptime),
    # or commonly used themselves: without them here they are missing at run time.
    "_strptime",
    "getopt",
    "plistlib",
    "sched",
    "string.templatelib",
    "timeit",
    "filecmp",
    "bz2",
    "lzma",
)
# Packages whose submodules are loaded on demand (codecs by name, email policies and MIME
# classes, xml.dom): all of them, so that no common call meets a missing module.
_PACKAGES = (
    "encodings",
    "email",
    "xml",
    "json",
    "html",
    "http",
    "urllib",
    "logging",
    "concurrent",
    "collections",
    "zoneinfo",
    "compression",
)
for _name in _STDLIB:
    try:
        __import__(_name)
    except Exception:  # a module this CPython build lacks simply stays unavailable
        pass
import pkgutil as _pkgutil  # noqa: E402

for _package in _PACKAGES:
    try:
        _path = __import__(_package).__path__
    except Exception:
        continue
    for _info in _pkgutil.walk_packages(_path, _package + "."):
        if ".tests" in _info.name or _info.name.endswith(("mbcs", "oem", "__main__")):
            continue
        try:
            __import__(_info.name)
        except Exception:  # e.g. a codec of another platform, or an absent native module
            pass
del _name, _package, _path, _info, _pkgutil


def _time_zones() -> None:
    """zoneinfo's time zones from memory: the guest has no files for it to open. The build
    (`sandbox/wasm/build.py`) makes `codeact_tzdata` from the host's tzdata package; without
    it, ZoneInfo finds no zone (and the error says so, `codeact_errors`)."""
    try:
        import codeact_tzdata
    except ImportError:
        return
    import base64
    import io
    import zlib
    import zoneinfo
    from zoneinfo import _common, _tzpath

    index: dict[str, tuple[int, int]] = codeact_tzdata.INDEX
    zones = frozenset(codeact_tzdata.ZONES)
    data = zlib.decompress(base64.b64decode(codeact_tzdata.BLOB))  # 200 KB, in the snapshot
    del sys.modules["codeact_tzdata"]  # its packed text is not kept

    def load_tzdata(key: str) -> Any:
        if key not in index:
            raise zoneinfo.ZoneInfoNotFoundError(f"No time zone found with key {key}")
        start, size = index[key]
        return io.BytesIO(data[start : start + size])

    def available_timezones() -> set[str]:
        return set(zones)

    _common.load_tzdata = load_tzdata
    _tzpath.available_timezones = zoneinfo.available_timezones = available_timezones


_time_zones()

# The guest's own modules come after the standard library above, as componentize-py built them.
import codeact_refusals  # noqa: E402
import codeact_runner  # noqa: E402
from componentize_py_types import Err  # noqa: E402
from wit_world import exports  # noqa: E402
from wit_world.imports import host as _host  # noqa: E402
from wit_world.imports import tools as _tools  # noqa: E402

_INTERNAL = {
    "wit_world",
    "componentize_py_types",
    "componentize_py_runtime",
    "site",
    "encodings",
    # This app and the runner's modules, all imported by now (the runner imports the rest).
    *(name for name in sys.modules if name.startswith("codeact_")),
}
AVAILABLE_MODULES = sorted(
    {m.split(".")[0] for m in sys.modules if not m.startswith("_")} - _INTERNAL
)


class _Unavailable:
    """Last entry of sys.meta_path: a clear error for modules the sandbox does not have."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        # This run's granted packages ([path, modules...], set by the runner), if any.
        granted = getattr(sys.modules.get("codeact_errors"), "PACKAGES", None) or []
        packages = (
            f", with only the granted packages ({', '.join(granted[1:])})"
            if granted[1:]
            else " or pip packages"
        )
        raise ModuleNotFoundError(
            f"No module named {name!r} in the sandbox. It runs CPython {sys.version.split()[0]} "
            f"(WebAssembly) without native extensions{packages}; its modules are: "
            + ", ".join(AVAILABLE_MODULES),
            name=name.split(".")[0],
        )

    def invalidate_caches(self) -> None:
        pass


sys.meta_path.append(_Unavailable())


def _crossable(name: str) -> str:
    """`name` as a string the component boundary takes: valid Unicode, lone surrogates shown
    escaped (the arguments are JSON, ASCII already). Sent as it is, such a name stopped the
    whole interpreter; now it is a tool name like any other that no tool has."""
    if name.isascii():
        return name
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


class _WasmHost:
    """The runner's host interface over the component's imports."""

    @staticmethod
    def dispatch(name: str, args_json: str) -> tuple[bool, str]:
        name = _crossable(name)
        reply = _tools.dispatch(f"{len(name)} {name}{args_json}")
        return reply[:1] == "o", reply[1:]

    @staticmethod
    def start_call(name: str, args_json: str) -> tuple[bool, Any]:
        try:
            return True, _host.start_call(_crossable(name), args_json)
        except Err as err:
            return False, err.value

    @staticmethod
    def wait_calls(timeout_ms: int) -> Any:
        return codeact_runner.json.loads(_host.wait_calls(timeout_ms))

    @staticmethod
    def sleep(ms: int) -> None:
        _host.sleep(ms)

    @staticmethod
    def write_output(stream: int, text: str) -> None:
        _host.write_output(stream, text)

    @staticmethod
    def http_request(request_json: str) -> tuple[bool, str]:
        try:
            return True, _host.http_request(request_json)
        except Err as err:
            return False, err.value


def _makedirs(name: Any, mode: int = 0o777, exist_ok: bool = False) -> None:
    """`os.makedirs` for WASI, where "/" is not a directory (only the mounts are): the
    original looks at each parent first, so for a mount point itself it tried to make "/"
    and failed (``os.makedirs("/output", exist_ok=True)``, which programs write before
    saving a file). An existing directory is now answered at once, as on any system."""
    if os.path.isdir(name):
        if exist_ok:
            return
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), name)
    _os_makedirs(name, mode, exist_ok)


_os_makedirs = os.makedirs
os.makedirs = _makedirs


# The runner's warm-up, here at build time: the interpreter's caches and the code it runs
# specialised, in the snapshot every instance starts from, instead of in each instance (a
# fresh execution 0.65 -> 0.59 ms; docs/performance.md, "sixth pass"). The same program the
# pool runs in each instance before handing it out; no host is reachable while building.
codeact_runner.warm_up(rows=True)
codeact_runner.install(_WasmHost())
# One thread: a wait nothing can end raises at the call (CPython aborted: a bare wasm trap),
# and a timed one sleeps on the host (it returned at once).
codeact_refusals.single_thread_waits(codeact_runner.sleep)

# Everything imported above lives in the build's snapshot for every instance: out of the
# collector's young generations, so that a program's garbage collections do not walk it.
import gc as _gc  # noqa: E402

_gc.collect()
_gc.freeze()


class Executor(exports.Executor):  # type: ignore[misc]  # generated when the guest is built
    def run(self, request_json: str) -> str:
        report: str = codeact_runner.run(request_json)
        return report
