"""The grant flags of `codeact exec`: --mount, --workspace, --allow-domain, --output-dir."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from .._display import shown_name
from .._paths import open_child_folder, open_folder_nofollow
from ..bridge.protocol import OutputFile
from ..errors import CodeActError, UserError
from ..policy.mounts import Mount
from ..policy.network import AllowedDomain

__all__ = ["grant_options", "parse_domain", "parse_mount", "ready_output_dir", "save_files"]

F = TypeVar("F", bound=Callable[..., Any])


def grant_options(fn: F) -> F:
    """The four flags, in the order `--help` shows them."""
    fn = click.option(
        "--output-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        metavar="DIR",
        help="Save the files the program writes under /output into DIR (created if needed; "
        "nothing there is replaced: a name that exists is saved as 'name (2).ext').",
    )(fn)
    fn = click.option(
        "--allow-domain",
        "allow_domains",
        multiple=True,
        metavar="HOST[:METHOD,...]",
        help="Let the program send HTTP requests to HOST (any method unless listed), e.g. "
        "api.github.com, '*.example.org:GET,POST', https://api.example.com:8443/v1:GET. "
        "Repeatable. Default: no network.",
    )(fn)
    fn = click.option(
        "--workspace",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        metavar="DIR",
        help="Show DIR to the program read-only at /input.",
    )(fn)
    fn = click.option(
        "--mount",
        "mounts",
        multiple=True,
        metavar="HOST[:GUEST][:ro|rw]",
        help="Show the host directory HOST to the program at GUEST (default: the same path), "
        "read-only unless :rw. Repeatable.",
    )(fn)
    return fn


def parse_mount(spec: str) -> Mount:
    """``HOST[:GUEST][:ro|rw]`` as a `Mount` (a Windows drive letter stays with HOST)."""
    parts = spec.split(":")
    if len(parts) > 1 and len(parts[0]) == 1 and parts[0].isalpha():  # C:\\data
        parts = [parts[0] + ":" + parts[1], *parts[2:]]
    mode = "ro"
    if len(parts) > 1 and parts[-1] in ("ro", "rw"):
        mode = parts.pop()
    if len(parts) > 2 or not parts[0]:
        raise UserError(
            f"--mount {spec}: expected HOST[:GUEST][:ro|rw], e.g. --mount ./data:/data:ro"
        )
    guest = parts[1] if len(parts) == 2 else None
    return Mount(parts[0], guest, mode="rw" if mode == "rw" else "ro")


def parse_domain(spec: str) -> AllowedDomain:
    """``HOST[:METHOD,...]``: the part after the last ':' is methods when it is made of
    letters (``api.example.com:GET,POST``), a port otherwise (``127.0.0.1:8080``)."""
    head, sep, tail = spec.rpartition(":")
    if sep and head and tail and all(m.strip().isalpha() for m in tail.split(",")):
        return AllowedDomain(head, methods=tail)
    return AllowedDomain(spec)


def ready_output_dir(directory: Path) -> Path:
    """Make --output-dir DIR (and its parents) and check it can be written, before any program
    runs: a directory that cannot take the files is a usage error then, not files lost after
    the program ran (and its tool calls were made). Returns DIR's real path (links resolved
    now): files are saved there later without following any link (`save_files`)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserError(f"--output-dir {directory}: not a directory; name a directory") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UserError(
            f"--output-dir {directory}: cannot create it ({reason}); choose a directory you "
            "can write to"
        ) from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UserError(
            f"--output-dir {directory}: not writable; choose a directory you can write to"
        )
    return directory.resolve()


def save_files(files: Sequence[OutputFile], directory: Path) -> list[tuple[str, Path]]:
    """Write `files` under `directory` (the real path `ready_output_dir` returned), keeping
    their paths below /output; (path, where it was saved) for each.

    Nothing already there is ever replaced: the program chose the names, and a name that
    exists (``Makefile``, ``.bashrc`` in a directory given by mistake, or last run's
    ``report.csv``) is saved next to it as ``report (2).csv`` instead. No link is followed,
    from / down to each file: DIR and its folders are opened one at a time without
    following links, and files are created exclusively in them. (A program with a
    read-write mount that holds DIR can replace DIR, or a folder in it, with a link to
    anywhere on the host while it runs.)"""
    if os.open not in os.supports_dir_fd or os.mkdir not in os.supports_dir_fd:
        return _save_by_path(files, directory)
    try:
        root = open_folder_nofollow(str(directory))
    except OSError as exc:
        why = (
            "its path now leads through a symbolic link (the program may have made one in "
            "a read-write mount)"
            if exc.errno == errno.ELOOP
            else (exc.strerror or str(exc))
        )
        raise CodeActError(f"--output-dir {directory}: nothing saved: {why}") from None
    saved: list[tuple[str, Path]] = []
    refused: list[str] = []
    try:
        for file in files:
            try:
                saved.append((file.path, _save_beneath(root, directory, file)))
            except OSError as exc:
                refused.append(f"{file.shown_path} ({_why(exc, directory)})")
    finally:
        os.close(root)
    if refused:  # the program ran: not a usage error (exit 1, not 2)
        raise CodeActError(f"--output-dir {directory}: could not save " + "; ".join(refused))
    return saved


def _save_beneath(root: int, directory: Path, file: OutputFile) -> Path:
    """Create `file` under the folder `root` (a descriptor of `directory`), its folders made
    or entered one at a time, none through a link; where it was saved."""
    *folders, name = file.path.split("/")
    if any(part in ("", ".", "..") for part in (*folders, name)):
        raise OSError(errno.EINVAL, "not a plain relative path")
    fd = os.dup(root)
    try:
        for part in folders:
            try:
                os.mkdir(part, 0o755, dir_fd=fd)
            except FileExistsError:
                pass
            inner = open_child_folder(part, fd)
            os.close(fd)
            fd = inner
        chosen = _write_new(name, file.data, folder=fd)
    finally:
        os.close(fd)
    return directory.joinpath(*folders, chosen)


def _why(exc: OSError, directory: Path) -> str:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return f"a folder on its path is a link or a file; links are not followed in {directory}"
    return exc.strerror or str(exc)


def _write_new(name: str, data: bytes, *, folder: int | None = None) -> str:
    """Create `name` (in the folder descriptor `folder`; else a path), or the first free
    ``stem (N)suffix`` beside it, never through a link, and write `data`; the name used."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    path = Path(name)
    candidate = name
    for number in range(2, 10_000):
        try:
            fd = os.open(candidate, flags, 0o644, dir_fd=folder)
        except FileExistsError:
            candidate = str(path.with_name(f"{path.stem} ({number}){path.suffix}"))
            continue
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return candidate
    raise FileExistsError(f"{name} and 10,000 numbered names beside it exist")


def _save_by_path(files: Sequence[OutputFile], directory: Path) -> list[tuple[str, Path]]:
    """`save_files` where the system has no ``dir_fd`` (Windows): folders are followed and
    must stay inside `directory`; the file's own name never is."""
    root = directory.resolve()
    saved: list[tuple[str, Path]] = []
    refused: list[str] = []
    for file in files:
        parent = (root / file.path).parent.resolve()
        if parent != root and root not in parent.parents:
            refused.append(f"{file.path} (its folder leads outside {directory})")
            continue
        try:
            parent.mkdir(parents=True, exist_ok=True)
            target = _write_new(str(parent / Path(file.path).name), file.data)
            saved.append((file.path, Path(target)))
        except OSError as exc:
            refused.append(f"{file.path} ({exc.strerror or exc})")
    if refused:
        raise CodeActError(f"--output-dir {directory}: could not save " + "; ".join(refused))
    return saved


def renamed_note(saved: Sequence[tuple[str, Path]], directory: Path) -> str:
    """' (a.csv existed: saved as a (2).csv)' for the files not saved under their own name."""
    root = directory.resolve()
    moved = [
        shown_name(f"{path} existed: saved as {where.relative_to(root)}")
        for path, where in saved
        if where.relative_to(root).as_posix() != path
    ]
    return f" ({'; '.join(moved)})" if moved else ""
