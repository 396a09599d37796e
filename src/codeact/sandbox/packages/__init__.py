"""Third-party packages for the sandbox: resolved, pinned, hashed and installed on the host."""

from __future__ import annotations

from .resolve import cached_grants, load_grant, remove_cached, resolve_packages
from .wheelhouse import wheelhouse_from_installed

__all__ = [
    "cached_grants",
    "load_grant",
    "remove_cached",
    "resolve_packages",
    "wheelhouse_from_installed",
]
