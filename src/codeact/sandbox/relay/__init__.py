"""The host side of a program that runs in another process (the jail's children, the
hyperlight worker): frames over a socket for tool calls (`guest/wire.py`), two pipes for output."""

from __future__ import annotations

from .serve import Relay, describe_exit

__all__ = ["Relay", "describe_exit"]
