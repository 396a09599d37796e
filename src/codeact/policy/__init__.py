"""Policy values: what an execution may use and reach (limits; mounts and domains come later)."""

from __future__ import annotations

from .limits import LIMIT_NAMES, LimitName, Limits

__all__ = ["LIMIT_NAMES", "LimitName", "Limits"]
