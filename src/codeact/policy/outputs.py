"""`OutputLimits`: how much a program may hand back as files under /output."""

from __future__ import annotations

from dataclasses import dataclass

from .._checks import short_repr
from ..errors import ConfigurationError

__all__ = ["OutputLimits"]

_MIB = 1024 * 1024


@dataclass(frozen=True)
class OutputLimits:
    """Limits on the files a program writes under ``/output`` (returned in the result).

    =====================  ========  ======================================================
    field                  default   what happens past it
    =====================  ========  ======================================================
    ``max_files``          20        further files are not returned (listed as skipped)
    ``max_file_bytes``     10 MiB    a larger file is not returned (listed as skipped)
    ``max_total_bytes``    32 MiB    files past the total are not returned (skipped)
    =====================  ========  ======================================================

    Files are taken in path order. A program that keeps writing far past these limits
    (more than twice ``max_total_bytes`` on disk, or ten times ``max_files`` entries) is
    stopped with the limit ``output_files``, so it cannot fill the host's disk.

    >>> OutputLimits(max_files=5)
    OutputLimits(max_files=5, max_file_bytes=10 MiB, max_total_bytes=32 MiB)
    """

    max_files: int = 20
    max_file_bytes: int = 10 * _MIB
    max_total_bytes: int = 32 * _MIB

    def __post_init__(self) -> None:
        for name, low, high in (
            ("max_files", 0, 10_000),
            ("max_file_bytes", 0, 1 << 32),
            ("max_total_bytes", 0, 1 << 34),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigurationError(
                    f"OutputLimits.{name} must be a whole number from {low} to {high}, "
                    f"got {short_repr(value)}"
                )

    @property
    def disk_bytes(self) -> int:
        """Bytes under /output past which the program is stopped (disk protection)."""
        return 2 * self.max_total_bytes + self.max_file_bytes

    @property
    def disk_entries(self) -> int:
        """Files and directories under /output past which the program is stopped."""
        return max(10 * self.max_files, 100)

    def __repr__(self) -> str:
        return (
            f"OutputLimits(max_files={self.max_files}, "
            f"max_file_bytes={_size(self.max_file_bytes)}, "
            f"max_total_bytes={_size(self.max_total_bytes)})"
        )


def _size(n: int) -> str:
    if n and n % _MIB == 0:
        return f"{n // _MIB} MiB"
    if n and n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} bytes"
