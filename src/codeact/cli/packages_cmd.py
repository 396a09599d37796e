"""Packages for the sandbox on the command line: the --package flags of `exec` and `serve-mcp`,
and `codeact sandbox packages add|list|remove`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import UserError
from ..policy.packages import PackageGrant
from .common import handle_errors

__all__ = ["check_package_options", "describe_cached", "package_options", "packages_group"]

F = TypeVar("F", bound=Callable[..., Any])

_BACKENDS = click.Choice(["wasm", "jail"])


def package_options(fn: F) -> F:
    """``--package NAME`` (repeatable) and ``--find-links DIR``."""
    fn = click.option(
        "--find-links",
        "wheelhouse",
        type=click.Path(file_okay=False, exists=True, path_type=Path),
        default=None,
        metavar="DIR",
        help="Install --package from the wheels in DIR only (offline; no index).",
    )(fn)
    fn = click.option(
        "--package",
        "packages",
        multiple=True,
        metavar="REQUIREMENT",
        help="A package the program may import (e.g. tabulate, 'numpy>=2'): installed on the "
        "host once (pip, your index settings), read-only in the sandbox. wasm takes pure-Python "
        "packages; jail native ones too. Repeatable.",
    )(fn)
    return fn


def check_package_options(packages: tuple[str, ...], wheelhouse: Path | None) -> None:
    """--find-links without --package would be ignored without a word: say so instead."""
    if wheelhouse is not None and not packages:
        raise UserError(
            f"--find-links {wheelhouse}: name the packages to install from it with --package "
            "NAME (a wheelhouse alone grants nothing)"
        )


@click.group("packages")
def packages_group() -> None:
    """Install and list the packages granted to sandboxes (kept in the user cache)."""


@packages_group.command("add")
@click.argument("requirements", nargs=-1, required=True)
@click.option("--backend", type=_BACKENDS, default="wasm", show_default=True)
@click.option(
    "--find-links",
    "wheelhouse",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    metavar="DIR",
    help="Install from the wheels in DIR only (offline).",
)
@click.option("--refresh", is_flag=True, help="Resolve again even if already installed.")
@handle_errors
def add_command(
    requirements: tuple[str, ...], backend: str, wheelhouse: Path | None, refresh: bool
) -> None:
    """Resolve, pin, hash and install REQUIREMENTS for BACKEND (ahead of the first use)."""
    from ..sandbox.packages import resolve_packages

    grant = resolve_packages(
        requirements,
        target="jail" if backend == "jail" else "wasm",
        wheelhouse=wheelhouse,
        refresh=refresh,
    )
    click.echo(describe_cached(grant))


@packages_group.command("list")
@handle_errors
def list_command() -> None:
    """Every installed package set: its key, backend, pins and where it lives."""
    from ..sandbox.packages import cached_grants

    grants = cached_grants()
    if not grants:
        click.echo("no packages installed (codeact sandbox packages add NAME ...)")
    for grant in grants:
        click.echo(describe_cached(grant))


@packages_group.command("remove")
@click.argument("key")
@handle_errors
def remove_command(key: str) -> None:
    """Remove the installed package set whose key starts with KEY (the hex key that `codeact
    sandbox packages list` shows)."""
    from ..sandbox.packages import remove_cached

    removed = remove_cached(key)
    if not removed:
        raise click.ClickException(
            f"no installed package set has a key starting with {key} "
            "(see codeact sandbox packages list)"
        )
    click.echo("removed " + ", ".join(removed))


def describe_cached(grant: PackageGrant) -> str:
    """``KEY  backend  name==version, ...  (import ...)  TREE``."""
    imports = ", ".join(grant.imports or grant.modules)
    return (
        f"{grant.key[:12]}  {grant.target:<4}  {', '.join(grant.versions())}"
        f"  (import {imports})  {grant.tree}"
    )
