"""Isolation backends: each runs one program per call in a fresh sandbox."""

from __future__ import annotations

from .base import Availability, Isolation, SandboxBackend
from .mock import MockBackend
from .registry import backend_class, backend_names, create_backend, resolve_auto

__all__ = [
    "Availability",
    "Isolation",
    "MockBackend",
    "SandboxBackend",
    "backend_class",
    "backend_names",
    "create_backend",
    "resolve_auto",
]
