"""The wasm backend's guest: componentize-py builds this module into a component.

Everything imported at build time is part of the component's snapshot; a module not imported
here cannot be imported at run time (the guest has no files), so the standard library that
model code uses is imported below. The runner itself (`codeact_runner`) is shared with the
other backends; this module only connects it to the component's imports and exports.
"""

from __future__ import annotations

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
)
for _name in _STDLIB:
    try:
        __import__(_name)
    except Exception:  # a module this CPython build lacks simply stays unavailable
        pass
del _name

# The guest's own modules come after the standard library above, as componentize-py built them.
import codeact_runner  # noqa: E402
from componentize_py_types import Err  # noqa: E402
from wit_world import exports  # noqa: E402
from wit_world.imports import host as _host  # noqa: E402
from wit_world.imports import tools as _tools  # noqa: E402

_INTERNAL = {
    "wit_world",
    "componentize_py_types",
    "componentize_py_runtime",
    "codeact_guest",
    "codeact_runner",
    "codeact_net",
    "site",
    "encodings",
}
AVAILABLE_MODULES = sorted(
    {m.split(".")[0] for m in sys.modules if not m.startswith("_")} - _INTERNAL
)


class _Unavailable:
    """Last entry of sys.meta_path: a clear error for modules the sandbox does not have."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        raise ModuleNotFoundError(
            f"No module named {name!r} in the sandbox. It runs CPython {sys.version.split()[0]} "
            "(WebAssembly) without native extensions or pip packages; its modules are: "
            + ", ".join(AVAILABLE_MODULES),
            name=name.split(".")[0],
        )

    def invalidate_caches(self) -> None:
        pass


sys.meta_path.append(_Unavailable())


class _WasmHost:
    """The runner's host interface over the component's imports."""

    @staticmethod
    def dispatch(name: str, args_json: str) -> tuple[bool, str]:
        try:
            return True, _tools.dispatch(name, args_json)
        except Err as err:
            return False, err.value

    @staticmethod
    def start_call(name: str, args_json: str) -> tuple[bool, Any]:
        try:
            return True, _host.start_call(name, args_json)
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


codeact_runner.install(_WasmHost())


class Executor(exports.Executor):  # type: ignore[misc]  # generated when the guest is built
    def run(self, request_json: str) -> str:
        report: str = codeact_runner.run(request_json)
        return report
