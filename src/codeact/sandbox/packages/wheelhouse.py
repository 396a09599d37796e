"""Wheels rebuilt from distributions installed in this Python: an offline wheelhouse.

For machines with no route to an index (and for tests, which must not need the network): the
files an installed distribution lists in its RECORD are packed back into a wheel with the tags
of its WHEEL file, so ``resolve_packages(..., wheelhouse=DIR)`` installs, pins and hashes them
like any downloaded wheel. The wheels are deterministic (fixed timestamps, sorted entries): the
same installed files give the same hashes, and so the same cache entry.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

from ...errors import ConfigurationError

__all__ = ["wheelhouse_from_installed"]

_EPOCH = (1980, 1, 1, 0, 0, 0)


def wheelhouse_from_installed(names: Iterable[str], dest: str | Path) -> list[Path]:
    """Write a wheel for each installed distribution in `names` into `dest`; return them."""
    out = Path(dest)
    out.mkdir(parents=True, exist_ok=True)
    return [_repack(name, out) for name in names]


def _repack(name: str, out: Path) -> Path:
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        raise ConfigurationError(f"{name!r} is not installed in this Python") from None
    files = [f for f in dist.files or [] if not str(f).startswith("..")]
    info = next((f for f in files if str(f).endswith(".dist-info/WHEEL")), None)
    if info is None:
        raise ConfigurationError(f"{name!r} was not installed from a wheel (no WHEEL file)")
    tags = [
        line.split(":", 1)[1].strip()
        for line in (info.read_text() or "").splitlines()
        if line.startswith("Tag:")
    ]
    pythons, abis, platforms = (sorted({t.split("-")[i] for t in tags}) for i in range(3))
    project = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    wheel = out / (
        f"{project}-{dist.version}-{'.'.join(pythons)}-{'.'.join(abis)}-{'.'.join(platforms)}.whl"
    )
    record_name = str(info).rsplit("/", 1)[0] + "/RECORD"
    entries = sorted(
        f
        for f in files
        if "__pycache__" not in f.parts and str(f) != record_name and Path(f.locate()).is_file()
    )
    record = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as zf:
        for item in entries:
            data = Path(str(item.locate())).read_bytes()
            zinfo = zipfile.ZipInfo(str(item), _EPOCH)
            zinfo.external_attr = 0o644 << 16
            zf.writestr(zinfo, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{item},sha256={digest.decode()},{len(data)}")
        record.append(f"{record_name},,")
        zinfo = zipfile.ZipInfo(record_name, _EPOCH)
        zinfo.external_attr = 0o644 << 16
        zf.writestr(zinfo, "\n".join(record) + "\n")
    return wheel
