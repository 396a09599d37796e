"""Find sandbox backends by name; import them only when asked for.

>>> sorted(backend_names())
['hyperlight', 'jail', 'wasm']
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from ..errors import BackendUnavailable, ConfigurationError
from .base import Availability, SandboxBackend

__all__ = [
    "AUTO_ORDER",
    "backend_availability",
    "backend_class",
    "backend_names",
    "create_backend",
    "resolve_auto",
    "shared_backend",
]

# name -> "module:Class"; imported lazily so a backend's dependencies load only when used.
_BACKENDS: dict[str, str] = {
    "hyperlight": "codeact.sandbox.hyperlight.backend:HyperlightBackend",
    "wasm": "codeact.sandbox.wasm.backend:WasmBackend",
    "jail": "codeact.sandbox.jail.backend:JailBackend",
}

#: `backend="auto"` takes the first available of these: the strongest isolation first.
AUTO_ORDER: tuple[str, ...] = ("hyperlight", "wasm", "jail")


def backend_names() -> list[str]:
    return list(_BACKENDS)


def backend_class(name: str) -> type[SandboxBackend]:
    """The backend class registered as `name` (imported now)."""
    try:
        target = _BACKENDS[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown sandbox backend {name!r}; choose one of: auto, {', '.join(_BACKENDS)}"
        ) from None
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendUnavailable(name, f"it could not be imported ({exc})") from exc
    cls: type[SandboxBackend] = getattr(module, attr)
    return cls


def backend_availability(name: str) -> Availability:
    """Whether the backend called `name` can run here (never raises for a missing one)."""
    try:
        return backend_class(name).availability()
    except BackendUnavailable as exc:
        return Availability(False, exc.reason)


def resolve_auto() -> str:
    """The name of the strongest backend that is available here."""
    reasons = []
    for name in AUTO_ORDER:
        availability = backend_availability(name)
        if availability.available:
            return name
        reasons.append(f"{name}: {availability.reason}")
    raise BackendUnavailable("auto", "no sandbox backend can run here (" + "; ".join(reasons) + ")")


def create_backend(name: str = "auto", **options: Any) -> SandboxBackend:
    """Create the backend called `name` ("auto": the strongest available)."""
    if name == "auto":
        name = resolve_auto()
    cls = backend_class(name)
    availability = cls.availability()
    if not availability.available:
        raise BackendUnavailable(name, availability.reason)
    try:
        return cls(**options)
    except TypeError as exc:
        raise ConfigurationError(f"invalid options for the {name!r} backend: {exc}") from exc


_shared: dict[str, SandboxBackend] = {}
_shared_lock = threading.Lock()


def shared_backend(name: str = "auto") -> SandboxBackend:
    """The process's one backend called `name` ("auto": the strongest available), created on
    first use: `CodeAct(backend=name)` uses it, so warm pools and compiled guests are shared."""
    if name == "auto":
        name = resolve_auto()
    with _shared_lock:
        backend = _shared.get(name)
        if backend is None:
            backend = _shared[name] = create_backend(name)
        return backend
