"""The `jail` backend: native CPython forked from a warm zygote, confined by Landlock and
seccomp (Linux only)."""

from __future__ import annotations

from .backend import JailBackend

__all__ = ["JailBackend"]
