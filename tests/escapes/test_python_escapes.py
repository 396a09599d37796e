"""The known ways out of a Python sandbox: reach `os`, `open` or host modules through
introspection, imports, frames and tracebacks, then use them on the host's canaries.

In our backends the walls are outside Python (WebAssembly, a micro-VM, or Landlock + seccomp),
so these tricks may well reach the sandbox's own `os`; what must never happen is that anything
they reach can read the host's file or environment, or load the host's modules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


def escaped(stdout: str) -> list[str]:
    """The lines in which an attempt says it got through."""
    return [line for line in stdout.splitlines() if line.startswith("ESCAPED")]


USE = """
def use(os_mod, how):
    got = []
    try:
        fd = os_mod.open("@CANARY_FILE@", os_mod.O_RDONLY)
        got.append(os_mod.read(fd, 200))
        print("ESCAPED: read the canary file via", how)
    except Exception as e:
        got.append(type(e).__name__)
    try:
        value = os_mod.environ.get("@CANARY_ENV@")
        if value:
            print("ESCAPED: read the canary variable via", how)
        got.append(value)
    except Exception as e:
        got.append(type(e).__name__)
    print(how, got)
"""

ATTEMPTS = {
    "subclasses_to_os_wrap_close": """
for cls in ().__class__.__base__.__subclasses__():
    if cls.__name__ == "_wrap_close":
        use(cls.__init__.__globals__["sys"].modules["os"], "os._wrap_close")
        break
else:
    print("no _wrap_close")
""",
    "subclasses_to_catch_warnings_builtins": """
import warnings
for cls in object.__subclasses__():
    if cls.__name__ == "catch_warnings":
        imp = cls()._module.__builtins__["__import__"]
        use(imp("os"), "catch_warnings")
        break
else:
    print("no catch_warnings")
""",
    "subclasses_to_fileio": """
def walk(cls, seen):
    for sub in type.__subclasses__(cls):
        if sub not in seen:
            seen.add(sub)
            yield sub
            yield from walk(sub, seen)
for cls in walk(object, set()):
    if cls.__name__ == "FileIO":
        try:
            print("ESCAPED", cls("@CANARY_FILE@").read())
        except Exception as e:
            print(cls.__name__, type(e).__name__)
""",
    "subclasses_to_popen": """
try:
    import subprocess  # refused or not, Popen may be loaded already: look for it
except ImportError:
    pass
def walk(cls, seen):
    for sub in type.__subclasses__(cls):
        if sub not in seen:
            seen.add(sub)
            yield sub
            yield from walk(sub, seen)
for cls in walk(object, set()):
    if cls.__name__ == "Popen":
        try:
            p = cls(["cat", "@CANARY_FILE@"], stdout=-1)
            print("ESCAPED", p.communicate())
        except Exception as e:
            print("Popen", type(e).__name__)
print("walked")
""",
    "builtins_dict_open": """
import builtins
for opener in (builtins.open, __builtins__["open"] if isinstance(__builtins__, dict) else __builtins__.open):
    try:
        print("ESCAPED", opener("@CANARY_FILE@").read())
    except Exception as e:
        print(type(e).__name__)
""",
    "gc_objects_hunt_for_host_secrets": """
import gc
found = [o for o in gc.get_objects() if isinstance(o, (dict, list)) and "@CANARY_ENV@" in repr(o)[:100000]]
print(len(found), [repr(o)[:300] for o in found][:3])
""",
    "sys_modules_has_no_host_modules": """
import sys
host = [m for m in sys.modules if m.split(".")[0] in ("codeact", "wasmtime", "pydantic", "click", "openai", "hyperlight_sandbox", "_pytest", "pytest")]
print("ESCAPED host modules" if host else "clean", host)
""",
    "import_host_package": """
for name in ("codeact", "wasmtime", "pydantic", "_pytest", "host_secret_module"):
    try:
        module = __import__(name)
        print("ESCAPED imported", name, getattr(module, "SECRET", ""))
    except Exception as e:
        print(name, type(e).__name__)
""",
    "sys_path_insert_host_dir": """
import sys
sys.path.insert(0, "@CANARY_DIR@")
try:
    import host_secret_module
    print("ESCAPED", host_secret_module.SECRET)
except Exception as e:
    print(type(e).__name__, e)
""",
    "spec_from_file_location_host_file": """
import importlib.util
try:
    spec = importlib.util.spec_from_file_location("m", "@CANARY_DIR@/host_secret_module.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print("ESCAPED", module.SECRET)
except Exception as e:
    print(type(e).__name__)
""",
    "loader_get_data_reads_any_file": """
import json
loader = json.__loader__
for target in (loader, type(loader)):
    try:
        print("ESCAPED", target.get_data("@CANARY_FILE@") if target is loader else target.get_data(loader, "@CANARY_FILE@"))
    except Exception as e:
        print(type(e).__name__)
""",
    "io_open_code_linecache_pathlib": """
import io, linecache, pathlib, codecs
for name, read in [
    ("open_code", lambda: io.open_code("@CANARY_FILE@").read()),
    ("linecache", lambda: "".join(linecache.getlines("@CANARY_FILE@")) or 1 / 0),
    ("pathlib", lambda: pathlib.Path("@CANARY_FILE@").read_text()),
    ("codecs", lambda: codecs.open("@CANARY_FILE@").read()),
]:
    try:
        print("ESCAPED", name, read())
    except Exception as e:
        print(name, type(e).__name__)
""",
    "reimport_os_after_deleting_it": """
import sys
for name in [m for m in sys.modules if m in ("os", "posix", "posixpath")]:
    del sys.modules[name]
import os
use(os, "re-imported os")
""",
    "clear_meta_path_policies": """
import sys
sys.meta_path[:] = [
    f for f in sys.meta_path
    if getattr(f, "__name__", type(f).__name__) in ("BuiltinImporter", "FrozenImporter", "PathFinder")
]
sys.path.insert(0, "@CANARY_DIR@")
for name in ("host_secret_module", "ctypes", "codeact", "pydantic"):
    try:
        module = __import__(name)
        print("imported", name, getattr(module, "SECRET", ""))
    except Exception as e:
        print(name, type(e).__name__)
""",
    "importlib_reload_and_posix_directly": """
import importlib
try:
    import posix
    use(importlib.reload(posix), "posix")
except Exception as e:
    print(type(e).__name__)
""",
    "zipimport_host_path": """
import zipimport
try:
    print("ESCAPED", zipimport.zipimporter("@CANARY_FILE@"))
except Exception as e:
    print(type(e).__name__)
""",
    "frame_walk_f_back_globals": """
import sys
frame = sys._getframe()
while frame is not None:
    builtins = frame.f_globals.get("__builtins__")
    opener = builtins.get("open") if isinstance(builtins, dict) else getattr(builtins, "open", None)
    try:
        print("ESCAPED", opener("@CANARY_FILE@").read())
    except Exception as e:
        print(frame.f_code.co_name, type(e).__name__)
    for value in list(frame.f_globals.values()) + list(frame.f_locals.values()):
        if hasattr(value, "environ"):
            use(value, "frame global " + frame.f_code.co_name)
    frame = frame.f_back
""",
    "traceback_walk_tb_frame": """
try:
    1 / 0
except ZeroDivisionError as exc:
    tb = exc.__traceback__
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    frame = frames[-1]
    while frame is not None:
        names = sorted(frame.f_globals)[:20]
        print(frame.f_code.co_filename, names)
        frame = frame.f_back
""",
    "generator_and_coroutine_frames": """
def gen():
    yield 1
g = gen()
async def coro():
    pass
c = coro()
async def agen():
    yield 1
a = agen()
for frame in (g.gi_frame, c.cr_frame, a.ag_frame):
    f = frame
    while f is not None:
        print(f.f_code.co_name, sorted(f.f_globals)[:5])
        f = f.f_back
c.close()
""",
    "rewrite_runner_output_limit": """
import sys
link = sys.modules.get("codeact_host")
if link is not None:
    link.OUTPUT.limit = 10 ** 12
import os
for _ in range(200):
    os.write(1, b"z" * 4096)
print("x" * 200000)
""",
    "settrace_and_audit_hooks": """
import sys
events = []
sys.settrace(lambda *a: None)
sys.addaudithook(lambda event, args: events.append(event))
try:
    print(open("@CANARY_FILE@").read())
except Exception as e:
    print(type(e).__name__)
print(sorted(set(events))[:10])
""",
    "ctypes_import_or_found_by_walking_frames": """
import sys, types
ctypes = None
try:
    import ctypes
except Exception as e:
    print("import ctypes:", type(e).__name__)
    # Whatever the host side of the sandbox loaded stays reachable from its frames' globals.
    todo = []
    frame = sys._getframe()
    while frame is not None:
        todo.append(frame.f_globals)
        frame = frame.f_back
    seen = set()
    while todo and ctypes is None:
        space = todo.pop()
        if id(space) in seen:
            continue
        seen.add(id(space))
        values = space.values() if isinstance(space, dict) else space
        for value in list(values):
            if isinstance(value, types.ModuleType):
                if value.__name__ == "ctypes":
                    ctypes = value
                todo.append(vars(value))
            elif isinstance(value, (list, tuple)):
                todo.append(value)
if ctypes is None:
    print("no ctypes anywhere")
else:
    print("got ctypes")
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.open(b"@CANARY_FILE@", 0)
    print("open:", fd)
    if fd >= 0:
        buf = ctypes.create_string_buffer(100)
        libc.read(fd, buf, 100)
        print("ESCAPED", buf.value)
    print("socket:", libc.syscall(41, 2, 1, 0), "fork:", libc.syscall(57), "kill host:", libc.kill(@HOST_PID@, 0))
""",
}

# Attempts that cannot show anything without a sandbox: they look for the sandbox's own
# machinery (its runner, its host's modules and frames) rather than for the host.
NO_CONTROL = {
    "sys_modules_has_no_host_modules",
    "gc_objects_hunt_for_host_secrets",
    "traceback_walk_tb_frame",
    "generator_and_coroutine_frames",
    "rewrite_runner_output_limit",
    "zipimport_host_path",
}


@pytest.mark.parametrize("name", list(ATTEMPTS))
async def test_python_escape_attempt_fails(attempt: Callable[..., Any], name: str) -> None:
    result = await attempt(USE + ATTEMPTS[name])
    assert not escaped(result.stdout), result.stdout
    if name == "rewrite_runner_output_limit":
        assert len(result.stdout.encode()) + len(result.stderr.encode()) <= 64 * 1024
        assert result.output_truncated > 0


@pytest.mark.parametrize("name", [n for n in ATTEMPTS if n not in NO_CONTROL])
def test_attempt_escapes_without_a_sandbox(
    unsandboxed: Callable[[str], list[str]], name: str
) -> None:
    """The same attempt, run by a plain interpreter on the host, does reach the host: so the
    attempt is real, and its failure above is the sandbox's doing."""
    assert unsandboxed(USE + ATTEMPTS[name])
