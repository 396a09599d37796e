"""`PackageGrant`: third-party packages a program may import, granted read-only like a mount.

Nothing but the standard library is importable in a sandbox by default. `CodeAct(packages=[...])`
resolves the names on the host once, at configuration (see `codeact.sandbox.packages`), into a
pinned, hashed tree in the user cache; the grant is that tree, which each backend shows to the
program read-only and puts on its ``sys.path``:

>>> grant.pins                                          # doctest: +SKIP
(Pin('tabulate', '0.9.0', sha256='...'),)

The value here is pure: it names files and versions, and never fetches or imports anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

__all__ = ["PACKAGES_PATH", "PackageGrant", "PackageTarget", "Pin", "is_pure_wheel"]

#: Which interpreter the packages are for: the Wasm guest (pure Python only) or the host's
#: own Python (the jail runs it; native extensions included).
PackageTarget: TypeAlias = Literal["wasm", "jail"]

#: Where the Wasm guest sees the granted packages (read-only, first on its sys.path).
PACKAGES_PATH = "/packages"


@dataclass(frozen=True)
class Pin:
    """One installed distribution: its name, exact version, wheel file and that file's hash."""

    name: str
    version: str
    wheel: str
    sha256: str

    def __str__(self) -> str:
        return f"{self.name}=={self.version}"

    def __repr__(self) -> str:
        return f"Pin({self.name!r}, {self.version!r}, sha256={self.sha256[:12]!r}...)"


@dataclass(frozen=True)
class PackageGrant:
    """Installed packages, read-only in every program of a CodeAct.

    Attributes:
        requested: The requirements as the user wrote them (``"tabulate"``, ``"numpy>=2"``).
        pins: Every distribution installed, dependencies included, pinned and hashed.
        tree: The host directory holding them (a ``pip install --target`` tree).
        modules: The top-level names a program may import from the tree.
        imports: The import names of the requested packages (what the model is told, and
            what a warm pool may import ahead of time).
        target: The interpreter they were resolved for (``"wasm"`` or ``"jail"``).
        key: A content hash of the pins and target (the cache entry's name).
    """

    requested: tuple[str, ...]
    pins: tuple[Pin, ...]
    tree: str
    modules: tuple[str, ...]
    imports: tuple[str, ...]
    target: PackageTarget
    key: str

    def guest_path(self) -> str:
        """Where the program finds the tree: `PACKAGES_PATH` in the Wasm guest; in the jail
        its host path (bound read-only at the same place, so paths the zygote recorded at
        import time stay valid)."""
        return PACKAGES_PATH if self.target == "wasm" else self.tree

    def versions(self) -> list[str]:
        """``["name==version", ...]`` for every installed distribution (result metadata)."""
        return [str(p) for p in self.pins]

    def describe(self) -> str:
        """How the model is told: ``tabulate (import tabulate), python-dateutil (import ...)``."""
        return ", ".join(self.versions()) + " (import " + ", ".join(self.imports) + ")"

    def __repr__(self) -> str:
        return f"PackageGrant({self.versions()!r}, target={self.target!r})"


def is_pure_wheel(filename: str) -> bool:
    """Whether a wheel's tags say it is pure Python (``py3-none-any``), from its file name."""
    stem = filename.removesuffix(".whl")
    parts = stem.split("-")
    if len(parts) < 5:
        return False
    python, abi, platform = parts[-3:]
    pythons = python.split(".")
    return abi == "none" and platform == "any" and any(p.startswith("py3") for p in pythons)
