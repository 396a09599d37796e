"""File mounts and allowed domains as Agent Framework's Hyperlight provider takes them.

The same input forms and normalisation, so a configuration written for the reference works
unchanged: a file mount is ``"path"`` (same relative path inside), ``(host_path, mount_path)``
or a `FileMount`, and appears under ``/input/...`` in the sandbox; an allowed domain is
``"host"`` (every method), ``("host", "GET")``, ``("host", ["GET", "POST"])`` or an
`AllowedDomain`. Host paths must exist and are resolved when added.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import NamedTuple, TypeAlias, cast
from urllib.parse import urlparse

from ...errors import ConfigurationError

__all__ = [
    "AllowedDomain",
    "AllowedDomainInput",
    "FileMount",
    "FileMountInput",
    "display_mount_path",
    "normalize_domain",
    "normalize_domains",
    "normalize_mount_path",
    "normalize_mounts",
    "resolve_workspace_root",
]


class FileMount(NamedTuple):
    """A host file or directory shown to the sandbox under ``/input``."""

    host_path: str | Path
    mount_path: str


class AllowedDomain(NamedTuple):
    """A host the sandbox may send HTTP requests to; `methods` None means every method."""

    target: str
    methods: tuple[str, ...] | None = None


FileMountInput: TypeAlias = "str | tuple[str | Path, str] | FileMount"
AllowedDomainInput: TypeAlias = "str | tuple[str, str | Sequence[str]] | AllowedDomain"


def resolve_workspace_root(value: str | Path | None) -> Path | None:
    if value is None:
        return None
    path = _existing(value, "workspace_root")
    if not path.is_dir():
        raise ConfigurationError(f"workspace_root must be a directory, got {str(value)!r}")
    return path


def normalize_mounts(mounts: object) -> list[FileMount]:
    """One mount or a sequence of them, each as FileMount(resolved host path, relative path)."""
    if isinstance(mounts, str) or _is_mount_pair(mounts):
        items: list[object] = [mounts]
    elif isinstance(mounts, Sequence):
        items = list(mounts)
    else:
        raise ConfigurationError(
            f"file_mounts takes a path, a (host_path, mount_path) pair or a list of them, "
            f"got {type(mounts).__name__}"
        )
    result = []
    for item in items:
        host: str | Path
        if isinstance(item, str):
            host, mount = item, item
        elif _is_mount_pair(item):
            host, mount = cast("tuple[str | Path, str]", item)
        else:
            raise ConfigurationError(
                f"a file mount is a path or a (host_path, mount_path) pair, got {item!r}"
            )
        result.append(FileMount(_existing(host, "file mount"), normalize_mount_path(mount)))
    return result


def normalize_mount_path(mount_path: str) -> str:
    """The path inside ``/input``, without it: ``"/input/data/x.csv"`` -> ``"data/x.csv"``."""
    raw = mount_path.strip().replace("\\", "/")
    parts = [p for p in PurePosixPath(raw).parts if p not in {"", "/", "."}]
    if parts and parts[0] == "input":
        parts = parts[1:]
    if any(p == ".." for p in parts):
        raise ConfigurationError(f"a mount path must stay inside /input, got {mount_path!r}")
    if not parts:
        raise ConfigurationError(f"a mount path must name a path under /input, got {mount_path!r}")
    return "/".join(parts)


def display_mount_path(mount_path: str) -> str:
    return f"/input/{mount_path}"


def normalize_domains(domains: object) -> list[AllowedDomain]:
    """One allowed domain or a sequence of them, normalised (lower-case host, upper methods)."""
    if isinstance(domains, (str, AllowedDomain)) or _is_domain_pair(domains):
        items: list[object] = [domains]
    elif isinstance(domains, Sequence):
        items = list(domains)
    else:
        raise ConfigurationError(
            f"allowed_domains takes a host, a (host, methods) pair or a list of them, "
            f"got {type(domains).__name__}"
        )
    result = []
    for item in items:
        if isinstance(item, str):
            result.append(AllowedDomain(normalize_domain(item), None))
        elif isinstance(item, AllowedDomain) or _is_domain_pair(item):
            target, methods = cast("tuple[str, str | Sequence[str] | None]", item)
            result.append(AllowedDomain(normalize_domain(target), _methods(methods)))
        else:
            raise ConfigurationError(
                f"an allowed domain is a host or a (host, methods) pair, got {item!r}"
            )
    return result


def normalize_domain(target: str) -> str:
    candidate = target.strip()
    parsed = urlparse(candidate if "://" in candidate else f"//{candidate}")
    normalized = (parsed.netloc or parsed.path).strip().rstrip("/").lower()
    if not normalized:
        raise ConfigurationError(f"an allowed domain must name a host, got {target!r}")
    return normalized


def _methods(methods: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if methods is None:
        return None
    given = [methods] if isinstance(methods, str) else list(methods)
    cleaned = {str(m).strip().upper() for m in given}
    if not cleaned or "" in cleaned:
        raise ConfigurationError(f"HTTP methods must not be empty, got {methods!r}")
    return tuple(sorted(cleaned))


def _existing(value: str | Path, what: str) -> Path:
    try:
        return Path(value).expanduser().resolve(strict=True)
    except (OSError, RuntimeError):
        raise ConfigurationError(f"{what}: no such file or directory: {str(value)!r}") from None


def _is_mount_pair(value: object) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], (str, Path))
        and isinstance(value[1], str)
    )


def _is_domain_pair(value: object) -> bool:
    if not isinstance(value, tuple) or isinstance(value, AllowedDomain) or len(value) != 2:
        return False
    target, methods = value
    return isinstance(target, str) and (
        isinstance(methods, str) or (isinstance(methods, Sequence) and methods is not None)
    )
