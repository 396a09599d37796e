"""`CodeAct(packages=...)`: which backend the packages are for, resolved at configuration."""

from __future__ import annotations

import os
from collections.abc import Iterable

from ..errors import ConfigurationError
from ..policy.packages import PackageGrant
from ..sandbox.base import SandboxBackend
from ..sandbox.packages import resolve_packages
from ..sandbox.registry import resolve_auto
from .package_bytecode import ensure_guest_bytecode

__all__ = ["grant_packages"]

_TARGETS = ("wasm", "jail")


def grant_packages(
    backend: str | SandboxBackend,
    packages: Iterable[str] | PackageGrant,
    *,
    wheelhouse: str | os.PathLike[str] | None = None,
) -> PackageGrant | None:
    """The packages for `backend`, installed now (never at the first run); None if none."""
    if not isinstance(packages, PackageGrant):
        if isinstance(packages, str):
            packages = [packages]
        packages = list(packages)
        if not packages:
            return None
    if isinstance(backend, SandboxBackend):
        name = backend.name
    elif isinstance(backend, str):
        name = resolve_auto() if backend == "auto" else backend
    else:
        return None  # CodeAct reports the bad backend argument itself
    if name not in _TARGETS:
        raise ConfigurationError(
            f"packages: the {name!r} backend cannot grant packages; use backend='wasm' "
            "(pure-Python packages) or backend='jail' (native ones too, e.g. numpy)"
        )
    if isinstance(packages, PackageGrant):
        grant = packages
        if grant.target != name:
            raise ConfigurationError(
                f"packages: these were installed for {grant.target!r}, not for the {name!r} "
                f"backend; resolve them again with target={name!r}"
            )
    else:
        grant = resolve_packages(packages, target=name, wheelhouse=wheelhouse)  # type: ignore[arg-type]
    if name == "wasm":
        ensure_guest_bytecode(grant)
    own = getattr(backend, "package_grant", None)
    if (
        name == "jail"
        and isinstance(backend, SandboxBackend)
        and (own is None or own.key != grant.key)
    ):
        raise ConfigurationError(
            "packages: a JailBackend instance imports its packages when it starts; create it "
            "with JailBackend(package_grant=resolve_packages([...], target='jail')) or pass "
            "backend='jail' and let CodeAct make it"
        )
    return grant
