"""The `wasm` backend: our CPython-WASI guest under wasmtime (the default)."""

from __future__ import annotations

from .backend import WasmBackend

__all__ = ["WasmBackend"]
