"""The grant flags of `codeact exec`: --mount, --workspace, --allow-domain, --output-dir."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

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
        help="Save the files the program writes under /output into DIR (created if needed).",
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
    the program ran (and its tool calls were made)."""
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
    return directory


def save_files(files: Sequence[OutputFile], directory: Path) -> list[Path]:
    """Write `files` under `directory`, keeping their paths below /output."""
    root = directory.resolve()
    saved: list[Path] = []
    for file in files:
        target = (root / file.path).resolve()
        if root not in target.parents:  # paths come from our own walk; never trust them anyway
            raise UserError(f"refusing to save {file.path!r} outside {directory}")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(file.data)
        except OSError as exc:  # the program ran: not a usage error (exit 1, not 2)
            raise CodeActError(
                f"--output-dir {directory}: cannot write {file.path}: {exc}"
            ) from None
        saved.append(target)
    return saved
