"""The host side of a program that runs in another process (the jail's children, the
hyperlight worker): framed JSON over a socket for tool calls, two pipes for output."""

from __future__ import annotations

from .frames import FrameReader, ProtocolError, encode_frame
from .serve import Relay, describe_exit

__all__ = ["FrameReader", "ProtocolError", "Relay", "describe_exit", "encode_frame"]
