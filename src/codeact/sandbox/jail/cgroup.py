"""A cgroup with a `pids` limit for the jail's zygote and every child it forks.

RLIMIT_NPROC bounds a child's threads only for a user other than root: the kernel never
applies it to uid 0, even in a user namespace. Without another bound one run could start tens
of thousands of threads (each with kernel memory outside its address-space limit) and a few runs
could use up the host's pids. The `pids` controller bounds every uid alike: the host puts the
zygote in a cgroup of its own, under the cgroup it runs in, with ``pids.max`` = `MAX_TASKS`;
its children inherit it at fork, at no cost per run. A run that reaches the limit gets EAGAIN
(``RuntimeError: can't start new thread``), and so do the runs beside it, never the host.

It needs a `pids` hierarchy where this process may make a cgroup: cgroup v1's ``pids``
hierarchy, or cgroup v2 where the process's own cgroup can have a child with the controller
(a delegated subtree, or the root). `problem` says why not where it cannot, and the jail then
runs without this bound (`codeact doctor` and docs/backends.md say so).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["MAX_TASKS", "PREFIX", "confine_tree", "problem", "remove"]

#: Tasks (processes and threads) in one zygote's tree: the zygote, its pooled and running
#: children and their threads. 64 threads for each of 31 runs at once, or more runs that use
#: fewer; about 40 MB of kernel memory at most.
MAX_TASKS = 2048
PREFIX = "codeact-jail-"


def _pids_parent(*, enable: bool = False) -> tuple[str, str]:
    """(the folder under which this process may make a cgroup with a pids limit, "") or
    ("", why there is none). Only with `enable` is anything written (cgroup v2: the
    controller switched on for the folder's children); a probe only reads."""
    own: dict[str, str] = {}
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                for name in controllers.split(","):
                    own[name] = path
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split() for line in f]
    except OSError as exc:
        return "", f"cannot read this process's cgroups: {exc}"
    v2 = ""
    for fields in mounts:
        sep = fields.index("-")
        fstype = fields[sep + 1]
        options = fields[sep + 3].split(",") if len(fields) > sep + 3 else []
        if fstype == "cgroup" and "pids" in options and "pids" in own and fields[3] == "/":
            return _usable(Path(fields[4], own["pids"].lstrip("/")), v2=False, enable=enable)
        if fstype == "cgroup2" and fields[3] == "/" and not v2:
            v2 = fields[4]
    if v2 and "" in own:
        return _usable(Path(v2, own[""].lstrip("/")), v2=True, enable=enable)
    return "", "no cgroup 'pids' controller is mounted"


def _usable(parent: Path, *, v2: bool, enable: bool) -> tuple[str, str]:
    if v2:
        try:
            enabled = (parent / "cgroup.subtree_control").read_text().split()
            available = (parent / "cgroup.controllers").read_text().split()
        except OSError as exc:
            return "", f"cgroup v2 at {parent}: {exc.strerror}"
        delegate = (
            f"the 'pids' controller cannot be enabled below {parent}: run the host in a "
            "delegated cgroup v2 subtree"
        )
        if "pids" not in enabled and "pids" not in available:
            return "", delegate
        if "pids" not in enabled and not _is_root(parent) and _has_tasks(parent):
            return "", delegate  # the kernel refuses it (EBUSY): no internal processes
        if "pids" not in enabled and enable:
            try:
                (parent / "cgroup.subtree_control").write_text("+pids")
            except OSError as exc:
                return "", f"{delegate} ({exc.strerror})"
    if not os.access(parent, os.W_OK):
        return "", f"{parent} is not writable by this user"
    return str(parent), ""


def _is_root(cgroup: Path) -> bool:
    return not (cgroup / "cgroup.type").exists()  # the root cgroup has no type file


def _has_tasks(cgroup: Path) -> bool:
    try:
        return bool((cgroup / "cgroup.procs").read_text().strip())
    except OSError:
        return True


def problem() -> str:
    """ "" when `confine_tree` can bound the jail's tasks here, else why not (read only:
    nothing in the cgroup tree is changed)."""
    return _pids_parent()[1]


def confine_tree(pid: int, max_tasks: int = MAX_TASKS) -> tuple[str, str]:
    """Put process `pid` (the zygote, before it forks) in a new cgroup limited to `max_tasks`
    tasks: (its folder, "") or ("", why it could not). Leftovers of hosts that died are
    removed on the way."""
    parent, why = _pids_parent(enable=True)
    if not parent:
        return "", why
    _remove_leftovers(parent)
    path = Path(parent, f"{PREFIX}{pid}")
    try:
        path.mkdir(0o755)
    except FileExistsError:
        pass  # a leftover with a reused pid, still busy: use it
    except OSError as exc:
        return "", f"cannot make a cgroup in {parent}: {exc.strerror}"
    try:
        (path / "pids.max").write_text(str(max_tasks))
        (path / "cgroup.procs").write_text(str(pid))
    except OSError as exc:
        remove(str(path))
        return "", f"cannot limit the jail's tasks in {path}: {exc.strerror}"
    return str(path), ""


def remove(path: str) -> bool:
    """Remove an empty cgroup (True), or leave one that still has tasks (False)."""
    try:
        Path(path).rmdir()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def _remove_leftovers(parent: str) -> None:
    """Cgroups of zygotes whose host died before removing them: empty ones go (rmdir refuses
    one that still has tasks)."""
    with contextlib.suppress(OSError), os.scandir(parent) as entries:
        for entry in entries:
            if entry.name.startswith(PREFIX) and entry.is_dir(follow_symlinks=False):
                remove(entry.path)
