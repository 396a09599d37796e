"""Policy values: what an execution may use and reach (limits, mounts, allowed domains)."""

from __future__ import annotations

from .limits import LIMIT_NAMES, LimitName, Limits
from .mounts import Mount, MountInput
from .network import AllowedDomain, DomainInput, NetworkLimits
from .outputs import OutputLimits

__all__ = [
    "LIMIT_NAMES",
    "AllowedDomain",
    "DomainInput",
    "LimitName",
    "Limits",
    "Mount",
    "MountInput",
    "NetworkLimits",
    "OutputLimits",
]
