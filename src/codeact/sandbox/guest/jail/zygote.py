"""The jail's zygote: one CPython that imports everything once, then forks a fresh child per run.

It never runs untrusted code itself. It talks to the host over a SOCK_SEQPACKET control socket,
one JSON message per packet:

    host -> zygote   {"op": "fork"} + three descriptors (channel socket, stdout and stderr pipes)
    zygote -> host   {"op": "ready", ...}            once, after the imports
                     {"op": "forked", "pid": N} + a pidfd of the child (kill without pid races)
                     {"op": "exit", "pid": N, "status": S}   a child ended (waitpid status)

The zygote exits when the host closes the control socket; its children die with it
(PR_SET_PDEATHSIG), so nothing outlives the host.
"""

from __future__ import annotations

import fcntl
import gc
import importlib
import importlib.util
import json
import os
import selectors
import signal
import socket
import sys
import sysconfig
from types import ModuleType
from typing import Any

from .. import RUNNER_MODULES
from . import child, confine, landlock, rootfs

__all__ = ["main"]

#: Standard-library modules imported before forking, so a run starts with them warm (and so
#: their shared libraries are mapped before Landlock hides the system's library folders).
PRELOAD = (
    "abc", "argparse", "array", "ast", "asyncio", "base64", "binascii", "bisect", "bz2",
    "calendar", "cmath", "codecs", "collections", "collections.abc", "colorsys",
    "concurrent.futures", "contextlib", "contextvars", "copy", "copyreg", "csv", "dataclasses",
    "datetime", "decimal", "difflib", "email", "enum", "fnmatch", "fractions", "functools", "gc",
    "glob", "graphlib", "gzip", "hashlib", "heapq", "hmac", "html", "html.parser", "inspect",
    "io", "ipaddress", "itertools", "json", "keyword", "linecache", "locale", "logging", "lzma",
    "math", "mimetypes", "numbers", "operator", "os", "os.path", "pathlib", "pickle", "pprint",
    "queue", "random", "re", "reprlib", "secrets", "select", "selectors", "shlex", "shutil",
    "socket", "sqlite3", "statistics", "string", "struct", "tempfile", "textwrap", "threading",
    "time", "timeit", "tokenize", "tomllib", "traceback", "types", "typing", "unicodedata",
    "urllib", "urllib.error", "urllib.parse", "urllib.request", "urllib.response",
    "email.message", "http.client", "uuid", "warnings", "weakref", "xml", "xml.dom.minidom",
    "xml.etree.ElementTree", "zipfile", "zlib", "zoneinfo",
)  # fmt: skip

#: Standard-library modules a program may not import, and why.
DENIED = {
    "ctypes": "it would call C functions directly",
    "_ctypes": "it would call C functions directly",
    "subprocess": "the sandbox cannot start processes",
    "_posixsubprocess": "the sandbox cannot start processes",
    "multiprocessing": "the sandbox cannot start processes",
    "_multiprocessing": "the sandbox cannot start processes",
    "_posixshmem": "the sandbox cannot start processes",
    "tkinter": "the sandbox has no display",
    "_tkinter": "the sandbox has no display",
    "turtle": "the sandbox has no display",
    "turtledemo": "the sandbox has no display",
    "idlelib": "the sandbox has no display",
    "ensurepip": "the sandbox cannot install packages",
    "venv": "the sandbox cannot install packages",
}


def _load_module(name: str, path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {name} from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _load_runner(path: str) -> ModuleType:
    """The shared runner, and the modules it imports by name (network, session state), from
    its folder."""
    for name in RUNNER_MODULES[:-1]:
        _load_module(name, os.path.join(os.path.dirname(path), name + ".py"))
    return _load_module(RUNNER_MODULES[-1], path)


def _interpreter_paths() -> list[str]:
    """What the interpreter may read: the standard library (not the site-packages inside it)
    and the time-zone database."""
    paths: list[str] = []
    for key in ("stdlib", "platstdlib"):
        root = sysconfig.get_path(key)
        if not root or not os.path.isdir(root):
            continue
        for entry in sorted(os.listdir(root)):
            if entry not in ("site-packages", "dist-packages", "__pycache__"):
                paths.append(os.path.join(root, entry))
    paths += [p for p in sys.path if p.endswith(".zip") and os.path.isfile(p)]
    if os.path.isdir("/usr/share/zoneinfo"):
        paths.append("/usr/share/zoneinfo")
    return sorted(set(paths))


def _package_paths(tops: set[str]) -> list[str]:
    """Where the allowed third-party packages live: their folders, the `<name>.libs` folders
    of bundled shared libraries, and their dist-info metadata."""
    import importlib.metadata

    try:
        dists = importlib.metadata.packages_distributions()
    except Exception:
        dists = {}
    paths: set[str] = set()
    for top in tops:
        module = sys.modules.get(top)
        locations = list(getattr(module, "__path__", None) or [])
        file = getattr(module, "__file__", None)
        if not locations and file:
            locations = [str(file)]
        names = {n.lower().replace("-", "_") for n in [top, *dists.get(top, [])]}
        for location in locations:
            paths.add(location)  # as the interpreter sees it, and as it really is
            location = os.path.realpath(location)
            paths.add(location)
            root = os.path.dirname(location)
            for entry in os.listdir(root):
                if _belongs_to(entry.lower(), names):
                    paths.add(os.path.join(root, entry))
    return sorted(p for p in paths if os.path.exists(p))


def _belongs_to(entry: str, names: set[str]) -> bool:
    """`numpy.libs` (bundled shared libraries) or `numpy-2.1.dist-info` (metadata)."""
    if entry.endswith(".libs"):
        return entry[: -len(".libs")] in names
    return entry.endswith((".dist-info", ".egg-info")) and entry.split("-")[0] in names


def _import_all(packages: list[str]) -> tuple[list[str], dict[str, str]]:
    failed: dict[str, str] = {}
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a module this build lacks stays unavailable
            failed[name] = f"{type(exc).__name__}: {exc}"
    loaded = []
    for name in packages:
        try:
            importlib.import_module(name)
            loaded.append(name)
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"
    return loaded, failed


def _stdlib_roots() -> list[str]:
    roots = {sysconfig.get_path(key) for key in ("stdlib", "platstdlib")}
    return sorted(os.path.realpath(r) for r in roots if r)


def _is_stdlib_file(path: str, roots: list[str]) -> bool:
    path = os.path.realpath(path)
    for root in roots:
        if path.startswith(root + os.sep):
            rest = path[len(root) + 1 :]
            return not rest.startswith(("site-packages", "dist-packages"))
    return False


def _third_party_tops(internal: set[str]) -> set[str]:
    """Top-level modules loaded now that are not part of the standard library."""
    roots = _stdlib_roots()
    tops = set()
    for name, module in list(sys.modules.items()):
        top = name.partition(".")[0]
        if top in internal or "." in name:
            continue
        location = getattr(module, "__file__", None) or next(
            iter(getattr(module, "__path__", None) or []), None
        )
        if location and not _is_stdlib_file(location, roots):
            tops.add(top)
    return tops


def main(control_fd: int) -> None:
    control = socket.socket(fileno=control_fd)
    config: dict[str, Any] = json.loads(control.recv(1 << 20))
    sys.path[:] = [p for p in sys.path if p] + list(config["sys_path"])
    internal = {*RUNNER_MODULES, "_codeact_guest", "__main__"}
    before = _third_party_tops(internal)
    runner = _load_runner(config["runner"])
    loaded, failed = _import_all(list(config["packages"]))
    tops = _third_party_tops(internal) - before
    for name in [*config["packages"], *config.get("modules", [])]:
        tops.add(name.partition(".")[0])
    trees = [p for p in config.get("trees", []) if os.path.isdir(p)]  # granted whole
    allowed = (set(sys.stdlib_module_names) - set(DENIED)) | tops
    read_paths = _interpreter_paths() + _package_paths(tops - set(failed)) + trees
    path_fds = [_open_high(p) for p in read_paths]
    abi = landlock.abi_version()
    root_problem = rootfs.available() if config.get("root") else "no folder for the tree"
    stdlib_roots = _stdlib_roots()
    # Bound at the paths the interpreter uses, and at their real paths if those differ.
    stdlib_dirs = sorted(
        {p for k in ("stdlib", "platstdlib") if (p := sysconfig.get_path(k))} | set(stdlib_roots)
    )
    setup = child.Setup(
        zygote_pid=os.getpid(),
        runner=runner,
        path_fds=path_fds,
        read_rules=landlock.ReadRules(path_fds, abi),
        allowed_modules=frozenset(allowed),
        denied_modules=dict(DENIED),
        packages=tuple(sorted(tops)),
        landlock_abi=abi,
        last_cap=_last_cap(),
        stdlib_paths=frozenset(p for p in sys.path if _is_stdlib_file(p + "/x", stdlib_roots)),
        root="" if root_problem else str(config["root"]),
        root_problem=root_problem,
        stdlib=tuple(_outermost(stdlib_dirs)),
        hidden=tuple(
            os.path.join(r, d)
            for r in stdlib_dirs
            for d in ("site-packages", "dist-packages")
            if os.path.isdir(os.path.join(r, d))
        ),
        packages_paths=tuple(
            p
            for p in _package_paths(tops - set(failed)) + _extra_paths() + trees
            if os.path.exists(p)
        ),
    )
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.set_wakeup_fd(wake_w)
    _send(
        control,
        {
            "op": "ready",
            "pid": os.getpid(),
            "python": sys.version.split()[0],
            "packages": loaded,
            "failed": failed,
            "read_paths": read_paths,
            "landlock_abi": setup.landlock_abi,
            "namespaces": not root_problem,
            "namespaces_problem": root_problem,
        },
    )
    confine.seccomp_programs()  # built once here: each child only writes its pid in
    gc.collect()
    gc.freeze()  # keep the imported objects' pages shared with every child
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    try:
        while True:
            for key, _ in selector.select():
                if key.fileobj is control:
                    if not _serve_request(control, setup):
                        return
                else:
                    os.read(wake_r, 4096)
                    _reap(control)
    except (BrokenPipeError, ConnectionError):
        return  # the host is gone; children die with this process


def _outermost(paths: list[str]) -> list[str]:
    """`paths` without those inside another one of them."""
    return [p for p in paths if not any(p != q and p.startswith(q + os.sep) for q in paths)]


def _extra_paths() -> list[str]:
    """Read-only files outside the standard library that it uses: time zones, zipped stdlib."""
    paths = [p for p in sys.path if p.endswith(".zip") and os.path.isfile(p)]
    if os.path.isdir("/usr/share/zoneinfo"):
        paths.append("/usr/share/zoneinfo")
    return paths


def _open_high(path: str) -> int:
    return _high(os.open(path, os.O_PATH | os.O_CLOEXEC))


def _high(fd: int) -> int:
    """`fd` renumbered to 10 or above, out of the way of the child's 0-3."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


def _serve_request(control: socket.socket, setup: child.Setup) -> bool:
    try:
        data, fds, _, _ = socket.recv_fds(control, 1 << 16, 8)
    except ConnectionError:
        return False
    if not data:
        return False
    request = json.loads(data)
    if request.get("op") != "fork" or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        return bool(request.get("op") != "exit")
    try:
        pid = os.fork()
    except OSError as exc:  # EAGAIN: the cgroup's task limit, reached by a thread flood
        for fd in fds:
            os.close(fd)
        _send(control, {"op": "forked", "error": str(exc)})
        return True
    if pid == 0:
        child.run(setup, channel_fd=fds[0], stdout_fd=fds[1], stderr_fd=fds[2])
    for fd in fds:
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    try:
        socket.send_fds(control, [json.dumps({"op": "forked", "pid": pid}).encode()], [pidfd])
    finally:
        os.close(pidfd)
    return True


def _reap(control: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send(control, {"op": "exit", "pid": pid, "status": status})


def _send(control: socket.socket, message: dict[str, Any]) -> None:
    control.sendmsg([json.dumps(message).encode()], [], 0)


def _last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return 63
