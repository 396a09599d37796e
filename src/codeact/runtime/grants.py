"""`Grants`: the file mounts, workspace and HTTP allow-list a CodeAct grants its programs.

A mixin of `CodeAct` (and the same methods as the reference's Agent Framework provider):
grants are checked when they are added, and passed to each execution in its `RunRequest`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from ..errors import ConfigurationError
from ..policy.mounts import Mount, MountInput, check_mounts, to_mount
from ..policy.network import AllowedDomain, DomainInput, to_allowed_domain
from ..policy.packages import PackageGrant

__all__ = ["Grants", "collection"]


class Grants:
    """File mounts, a read-only workspace at /input, and allowed domains."""

    _mounts: tuple[Mount, ...]
    _domains: tuple[AllowedDomain, ...]
    _workspace: Mount | None

    @property
    def workspace_root(self) -> str | None:
        """The host directory shown read-only at /input, if any."""
        return self._workspace.host if self._workspace is not None else None

    def add_file_mounts(self, mounts: MountInput | Iterable[MountInput]) -> None:
        """Add one mount or several (a list). The whole set is checked before it changes."""
        new = tuple(to_mount(m) for m in _items(mounts, "file_mounts"))
        check_mounts(
            (*self._mounts, *new), workspace=self._workspace, packages=self._packages_path()
        )
        self._mounts = (*self._mounts, *new)

    def get_file_mounts(self) -> list[Mount]:
        """The mounts (without the workspace, see `workspace_root`)."""
        return list(self._mounts)

    def remove_file_mount(self, guest_path: str) -> Mount:
        """Remove and return the mount seen at `guest_path` inside the sandbox."""
        for mount in self._mounts:
            if mount.guest == guest_path.rstrip("/") or mount.host == guest_path:
                self._mounts = tuple(m for m in self._mounts if m is not mount)
                return mount
        raise ConfigurationError(
            f"no mount at {guest_path!r}; the mounts are: "
            + (", ".join(m.guest for m in self._mounts) or "(none)")
        )

    def clear_file_mounts(self) -> None:
        self._mounts = ()

    def add_allowed_domains(self, domains: DomainInput | Iterable[DomainInput]) -> None:
        """Add one allow-list rule or several (a list)."""
        new = tuple(to_allowed_domain(d) for d in _items(domains, "allowed_domains"))
        self._domains = (*self._domains, *new)

    def get_allowed_domains(self) -> list[AllowedDomain]:
        return list(self._domains)

    def remove_allowed_domain(self, pattern: str) -> list[AllowedDomain]:
        """Remove (and return) every rule written as `pattern` (e.g. ``"*.example.org"``)."""
        removed = [d for d in self._domains if pattern in (d.pattern, d.host)]
        if not removed:
            raise ConfigurationError(
                f"no allowed domain {pattern!r}; the rules are: "
                + (", ".join(d.pattern for d in self._domains) or "(none)")
            )
        self._domains = tuple(d for d in self._domains if d not in removed)
        return removed

    def clear_allowed_domains(self) -> None:
        self._domains = ()

    def _granted_mounts(self) -> tuple[Mount, ...]:
        return check_mounts(self._mounts, workspace=self._workspace, packages=self._packages_path())

    def _packages_path(self) -> str | None:
        """Where the program finds the granted packages (no mount may hide them), if any."""
        grant: PackageGrant | None = getattr(self, "packages", None)
        return grant.guest_path() if grant is not None else None


def collection(value: Any, what: str) -> list[Any]:
    """The constructor's `file_mounts=[...]` / `allowed_domains=[...]` (any iterable)."""
    if isinstance(value, (str, os.PathLike, Mount, AllowedDomain)):
        return [value]
    try:
        return list(value)
    except TypeError:
        raise ConfigurationError(f"{what} must be a list, got {type(value).__name__}") from None


def _items(value: Any, what: str) -> list[Any]:
    """One grant or an iterable of them. A 2-tuple is one grant (a (host, guest) mount or
    a (domain, methods) rule), so several must be passed as a list."""
    if isinstance(value, (str, os.PathLike, tuple, Mount, AllowedDomain)):
        return [value]
    try:
        return list(value)
    except TypeError:
        raise ConfigurationError(f"{what} must be a list, got {type(value).__name__}") from None
