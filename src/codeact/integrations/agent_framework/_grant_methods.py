"""The reference's methods for file mounts and allowed domains, and what the model is told.

Mixed into `ExecuteCodeTool`, which holds the state; the forms they take are those of
`codeact.integrations.agent_framework._grants`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from ...policy.network import AllowedDomain as CoreAllowedDomain
from ...policy.outputs import OutputLimits
from ...runtime.instructions import describe_grants
from ._grants import (
    AllowedDomain,
    AllowedDomainInput,
    FileMount,
    FileMountInput,
    display_mount_path,
    normalize_domain,
    normalize_domains,
    normalize_mount_path,
    normalize_mounts,
)

__all__ = ["GrantMethods", "core_domain"]


class GrantMethods:
    """add/get/remove/clear for file mounts and for allowed domains (the reference's methods)."""

    _state_lock: threading.RLock
    _workspace_root: Path | None
    _file_mounts: dict[str, FileMount]
    _allowed_domains: dict[str, AllowedDomain]
    _max_output_files: int
    _max_output_file_bytes: int
    _max_output_total_bytes: int

    def add_file_mounts(self, file_mounts: FileMountInput | Sequence[FileMountInput]) -> None:
        """Add host files or directories, shown to the program under ``/input``."""
        mounts = normalize_mounts(file_mounts)
        with self._state_lock:
            for mount in mounts:
                self._file_mounts[str(mount.mount_path)] = mount

    def get_file_mounts(self) -> list[FileMount]:
        with self._state_lock:
            return [
                FileMount(m.host_path, display_mount_path(m.mount_path))
                for m in self._file_mounts.values()
            ]

    def remove_file_mount(self, mount_path: str) -> None:
        key = normalize_mount_path(mount_path)
        with self._state_lock:
            if key not in self._file_mounts:
                raise KeyError(f"No file mount exists for {mount_path!r}.")
            del self._file_mounts[key]

    def clear_file_mounts(self) -> None:
        with self._state_lock:
            self._file_mounts.clear()

    def add_allowed_domains(
        self, domains: AllowedDomainInput | Sequence[AllowedDomainInput]
    ) -> None:
        """Allow HTTP requests from the program to these hosts (and methods)."""
        entries = normalize_domains(domains)
        with self._state_lock:
            for entry in entries:
                self._allowed_domains[entry.target] = entry

    def get_allowed_domains(self) -> list[AllowedDomain]:
        with self._state_lock:
            return sorted(self._allowed_domains.values(), key=lambda d: d.target)

    def remove_allowed_domain(self, domain: str) -> None:
        key = normalize_domain(domain)
        with self._state_lock:
            if key not in self._allowed_domains:
                raise KeyError(f"No allowed domain exists for {domain!r}.")
            del self._allowed_domains[key]

    def clear_allowed_domains(self) -> None:
        with self._state_lock:
            self._allowed_domains.clear()

    def _output_limits(self) -> OutputLimits:
        return OutputLimits(
            max_files=self._max_output_files,
            max_file_bytes=self._max_output_file_bytes,
            max_total_bytes=self._max_output_total_bytes,
        )

    def _grant_lines(self) -> list[str]:
        """What the description says about files and network (as the reference shows them)."""
        with self._state_lock:
            workspace = self._workspace_root is not None
            mounted = [display_mount_path(m.mount_path) for m in self._file_mounts.values()]
            domains = [core_domain(d) for d in self._allowed_domains.values()]
        lines = describe_grants((), domains, self._output_limits())
        if workspace or mounted:
            shown = (["the workspace root's files"] if workspace else []) + mounted
            lines[0] = (
                f"Read-only host files under /input: {', '.join(shown)}; nothing else of the "
                "host's files exists there."
            )
        return lines


def core_domain(domain: AllowedDomain) -> CoreAllowedDomain:
    """The reference's allow-list entry as codeact's rule (host[:port], methods or all)."""
    return CoreAllowedDomain(domain.target, methods=domain.methods)
