"""The `hyperlight` backend: programs run in a Hyperlight micro-VM (a Wasm CPython guest),
through the optional `hyperlight-sandbox` package (``pip install -e '.[hyperlight]'``)."""

from __future__ import annotations

from .backend import HyperlightBackend

__all__ = ["HyperlightBackend"]
