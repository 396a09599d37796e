"""Is Hyperlight usable here? Answered by actually starting a VM, once per process.

Cheap checks come first (the packages, a hypervisor device); then a worker process starts a VM
and installs the runner in it. Whatever the VM says when it fails is the reason reported, e.g.
"Unknown KVM VCPU exit" in nested or emulated virtual machines.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import sys
import threading
from pathlib import Path

from ..._extras import install_hint
from ...errors import SandboxError
from ..base import Availability
from .process import DEFAULT_FACTORY, WorkerProcess

__all__ = ["probe"]

_DISTRIBUTIONS = (
    "hyperlight-sandbox",
    "hyperlight-sandbox-backend-wasm",
    "hyperlight-sandbox-python-guest",
)
_MODULES = ("hyperlight_sandbox", "hyperlight_sandbox_backend_wasm", "python_guest")
_INSTALL = install_hint("hyperlight")
_cache: dict[str, Availability] = {}
_lock = threading.Lock()


def probe(factory: str = DEFAULT_FACTORY) -> Availability:
    """Availability of Hyperlight with `factory` (cached for the life of the process)."""
    with _lock:
        if factory not in _cache:
            _cache[factory] = _probe(factory)
        return _cache[factory]


def _versions() -> dict[str, str]:
    versions = {}
    for dist in _DISTRIBUTIONS:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


def _probe(factory: str) -> Availability:
    versions = _versions()
    if factory == DEFAULT_FACTORY:
        missing = [m for m in _MODULES if importlib.util.find_spec(m) is None]
        if missing:
            return Availability(
                False,
                f"the Hyperlight packages are not installed ({', '.join(missing)}); {_INSTALL}",
                versions,
            )
        device = _hypervisor_problem()
        if device:
            return Availability(False, device, versions)
    try:
        worker = WorkerProcess(heap_mb=64, factory=factory)
    except SandboxError as exc:
        return Availability(
            False, f"a Hyperlight VM could not start here: {_tidy(str(exc))}", versions
        )
    worker.close()
    return Availability(True, "a Hyperlight VM started and ran the runner", versions)


def _hypervisor_problem() -> str:
    if sys.platform == "linux":
        if not (Path("/dev/kvm").exists() or Path("/dev/mshv").exists()):
            return "no hypervisor: neither /dev/kvm nor /dev/mshv exists"
        if not (
            os.access("/dev/kvm", os.R_OK | os.W_OK) or os.access("/dev/mshv", os.R_OK | os.W_OK)
        ):
            return "the hypervisor device (/dev/kvm or /dev/mshv) is not accessible to this user"
        return ""
    if sys.platform == "win32":
        return ""  # the probe tells whether Windows Hypervisor Platform is on
    return f"Hyperlight needs KVM, MSHV or Windows Hypervisor Platform; {sys.platform} has none"


def _tidy(message: str) -> str:
    """Hyperlight repeats the chain of causes; keep each part once, in order."""
    parts: list[str] = []
    for part in message.replace("\n", " ").split(": "):
        part = part.strip()
        if part and part not in parts:
            parts.append(part)
    return ": ".join(parts)[:400]
