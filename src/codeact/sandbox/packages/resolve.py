"""Resolve, fetch, pin, hash and install packages for a sandbox, once, into the user cache.

``resolve_packages(["tabulate"], target="wasm")`` runs on the host at configuration:

1. ``pip download`` the wheels of the requirements and their dependencies (the user's pip
   configuration, or a wheelhouse directory offline) into a temporary folder: for the Wasm
   guest, resolved for its CPython (`WASM_PYTHON`) and pure-Python wheels, whatever the host
   runs (its ``Requires-Python``, its markers); for the jail, for this host's Python;
2. pin every wheel (name, version, file, sha256): the lock. For the Wasm guest every wheel must
   be pure Python (``py3-none-any``); a native one is refused here, by name;
3. ``pip install --require-hashes --no-deps --target`` exactly the lock into a tree, kept in the
   cache under the lock's own hash (content-addressed: the same wheels give the same entry).

The requirements are remembered too (``requests/``), so the next configuration with the same
requirements uses the pinned entry without asking the index: packages change only when asked
(``refresh=True``, ``codeact sandbox packages add --refresh``). Every use re-checks the wheels'
hashes against the lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..._paths import atomic_write, cache_dir, file_lock
from ..._progress import report
from ...errors import ConfigurationError
from ...policy.packages import PackageGrant, PackageTarget, Pin, is_pure_wheel
from . import pip

__all__ = [
    "WASM_PYTHON",
    "cached_grants",
    "normalize",
    "remove_cached",
    "resolve_packages",
]

#: The Wasm guest's Python version (part of a wasm entry's identity).
WASM_PYTHON = "3.14"

_REQUIREMENT = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"  # name
    r"(?:\[[A-Za-z0-9._,\s-]*\])?"  # extras
    r"\s*(?:(?:===|==|!=|~=|>=|<=|>|<)\s*[A-Za-z0-9.*+!_-]+"  # one version clause
    r"(?:\s*,\s*(?:===|==|!=|~=|>=|<=|>|<)\s*[A-Za-z0-9.*+!_-]+)*)?$"
)


def normalize(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): ``Python_Dateutil`` ->
    ``python-dateutil``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return normalize(re.split(r"[\[\s<>=!~]", requirement, maxsplit=1)[0])


def check_requirements(requirements: Iterable[object]) -> tuple[str, ...]:
    """The requirements, stripped; a clear error for anything that is not one."""
    if isinstance(requirements, str):
        raise ConfigurationError(
            f"packages must be a list of requirements, e.g. [{requirements!r}], not a string"
        )
    checked: list[str] = []
    for item in requirements:
        text = item.strip() if isinstance(item, str) else ""
        if not _REQUIREMENT.match(text):
            raise ConfigurationError(
                f"packages: {item!r} is not a requirement; write a name such as 'tabulate', "
                "optionally with a version ('tabulate==0.9.0', 'numpy>=2')"
            )
        if text not in checked:
            checked.append(text)
    return tuple(checked)


def _python_tag(target: PackageTarget) -> str:
    if target == "wasm":
        return f"py{WASM_PYTHON}-wasi"
    impl = sys.implementation.name
    return f"{impl}{sys.version_info[0]}.{sys.version_info[1]}-{sys.platform}-{platform.machine()}"


def _root() -> Path:
    return cache_dir("packages")


def resolve_packages(
    requirements: Iterable[object],
    *,
    target: PackageTarget,
    wheelhouse: str | os.PathLike[str] | None = None,
    refresh: bool = False,
) -> PackageGrant:
    """The pinned, installed packages for `requirements` (fetched now unless cached).

    Args:
        requirements: ``["tabulate", "python-dateutil>=2.8"]``.
        target: ``"wasm"`` (pure-Python wheels for the guest's CPython) or ``"jail"`` (wheels
            for this host's Python, native extensions included).
        wheelhouse: A directory of wheels to install from instead of the index (offline:
            ``pip download -d DIR ...`` on a connected machine, or wheels you built).
        refresh: Resolve again even if these requirements were resolved before.

    Raises:
        ConfigurationError: an unknown package, a version conflict, no network to the index, a
            native package for ``wasm``, a wheel that fails its hash. One line each.
    """
    if target not in ("wasm", "jail"):
        raise ConfigurationError(f"packages: target must be 'wasm' or 'jail', got {target!r}")
    wanted = check_requirements(requirements)
    if not wanted:
        raise ConfigurationError("packages: the list is empty; name at least one package")
    house = None
    if wheelhouse is not None:
        house = str(Path(wheelhouse).expanduser().resolve())
        if not Path(house).is_dir():
            raise ConfigurationError(f"packages: the wheelhouse {house} is not a directory")
    what = ", ".join(wanted)
    request = {
        "requirements": sorted(wanted),
        "target": target,
        "python": _python_tag(target),
        "wheelhouse": house,
    }
    if target == "wasm":  # entries resolved before for the host's Python are not reused
        request["resolved_for"] = "guest"
    request_key = _digest(request)
    index = _root() / "requests" / f"{request_key}.json"
    if not refresh:
        with contextlib.suppress(OSError, ValueError, KeyError):
            known = json.loads(index.read_text())
            return load_grant(known["lock"], requested=wanted, imports=known["imports"])
    with file_lock(_root() / f".{request_key}.lock"):
        key = _fetch(wanted, target=target, wheelhouse=house, what=what)
    entry = _root() / key
    lock = json.loads((entry / "lock.json").read_text())
    imports = _imports(entry / "site", wanted, lock["modules"])
    index.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(index, json.dumps({"lock": key, "imports": imports, "request": request}).encode())
    return load_grant(key, requested=wanted, imports=imports)


def _fetch(
    wanted: Sequence[str], *, target: PackageTarget, wheelhouse: str | None, what: str
) -> str:
    """Download, pin and install; the key of the (new or existing) cache entry."""
    started = time.monotonic()
    # pip takes seconds to minutes (it downloads): said, as the guest's build is
    report(f"fetching {', '.join(wanted)} for the {target} sandbox with pip (once per set)...")
    key = _fetch_quietly(wanted, target=target, wheelhouse=wheelhouse, what=what)
    report(f"packages ready in {time.monotonic() - started:.0f} s")
    return key


def _fetch_quietly(
    wanted: Sequence[str], *, target: PackageTarget, wheelhouse: str | None, what: str
) -> str:
    root = _root()
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=root) as tmp:
        wheels = Path(tmp) / "wheels"
        wheels.mkdir()
        python = WASM_PYTHON if target == "wasm" else None
        try:
            pip.download(wanted, str(wheels), wheelhouse=wheelhouse, what=what, python=python)
        except pip.NoMatchingWheel:
            if target == "wasm":  # native only? say so by name rather than "no wheel"
                _refuse_native_only(wanted, Path(tmp) / "host", wheelhouse=wheelhouse, what=what)
            raise
        files = sorted(p for p in wheels.iterdir() if p.name.endswith(".whl"))
        if target == "wasm":
            _refuse_native(files)
        pins = tuple(_pin(p) for p in files)
        key = _digest({"target": target, "python": _python_tag(target), "pins": _lock(pins)})
        entry = root / key
        with file_lock(root / f".{key}.lock"):
            if (entry / "lock.json").is_file():
                return key
            staging = Path(tmp) / "entry"
            staging.mkdir()
            shutil.move(str(wheels), staging / "wheels")
            lock_file = staging / "requirements.lock"
            lock_file.write_text(
                "".join(f"{p.name}=={p.version} --hash=sha256:{p.sha256}\n" for p in pins)
            )
            site = staging / "site"
            pip.install(
                str(lock_file),
                str(staging / "wheels"),
                str(site),
                compile_=target == "jail",
                what=what,
                python=python,
            )
            shutil.rmtree(site / "bin", ignore_errors=True)  # scripts: nothing can run them
            modules = _top_level(site)
            lock = {
                "requested": list(wanted),
                "target": target,
                "python": _python_tag(target),
                "pins": _lock(pins),
                "modules": modules,
                "imports": _imports(site, wanted, modules),
            }
            (staging / "lock.json").write_text(json.dumps(lock, indent=1))
            os.replace(staging, entry)
    return key


def load_grant(
    key: str, *, requested: Sequence[str] | None = None, imports: Sequence[str] | None = None
) -> PackageGrant:
    """The cache entry `key`, after checking every wheel against its recorded hash.
    `requested`/`imports`: what this configuration asked for (several lead to one entry)."""
    entry = _root() / key
    data = json.loads((entry / "lock.json").read_text())
    pins = tuple(Pin(**p) for p in data["pins"])
    for pin in pins:
        wheel = entry / "wheels" / pin.wheel
        actual = _sha256(wheel) if wheel.is_file() else "(missing)"
        if actual != pin.sha256:
            raise ConfigurationError(
                f"packages: the wheel {pin.wheel} in {entry} fails its hash (locked "
                f"sha256 {pin.sha256[:16]}..., found {actual[:16]}...); remove the entry "
                f"(codeact sandbox packages remove {key[:12]}) and add the packages again"
            )
    site = entry / "site"
    if not site.is_dir():
        raise ConfigurationError(f"packages: the cache entry {entry} has no installed tree")
    return PackageGrant(
        requested=tuple(data["requested"] if requested is None else requested),
        pins=pins,
        tree=str(site),
        modules=tuple(data["modules"]),
        imports=tuple(data["imports"] if imports is None else imports),
        target=data["target"],
        key=key,
    )


def cached_grants() -> list[PackageGrant]:
    """Every installed entry in the cache (for ``codeact sandbox packages list`` and doctor)."""
    grants = []
    for entry in sorted(_root().iterdir()):
        if (entry / "lock.json").is_file():
            with contextlib.suppress(OSError, ValueError, KeyError, ConfigurationError):
                grants.append(load_grant(entry.name))
    return grants


def remove_cached(prefix: str) -> list[str]:
    """Remove the entries whose key starts with `prefix` (and the requests that led there)."""
    if len(prefix) < 6 or not re.fullmatch(r"[0-9a-f]+", prefix):
        raise ConfigurationError(
            f"{prefix!r} is not a package set's key: give at least 6 hex digits of the key that "
            "`codeact sandbox packages list` shows (cached_grants() in Python)"
        )
    removed = []
    for entry in sorted(_root().iterdir()):
        if entry.name.startswith(prefix) and (entry / "lock.json").exists():
            shutil.rmtree(entry)
            removed.append(entry.name)
    requests = _root() / "requests"
    if removed and requests.is_dir():
        for index in requests.iterdir():
            with contextlib.suppress(OSError, ValueError, KeyError):
                if json.loads(index.read_text())["lock"] in removed:
                    index.unlink()
    return removed


def _refuse_native_only(
    wanted: Sequence[str], scratch: Path, *, wheelhouse: str | None, what: str
) -> None:
    """When nothing fits the guest: if the host's Python finds wheels, and some are native,
    refuse those by name (else the caller's "no wheel" stands)."""
    scratch.mkdir()
    try:
        pip.download(wanted, str(scratch), wheelhouse=wheelhouse, what=what)
    except ConfigurationError:
        return
    _refuse_native(sorted(p for p in scratch.iterdir() if p.name.endswith(".whl")))


def _refuse_native(files: Sequence[Path]) -> None:
    native = [p.name for p in files if not is_pure_wheel(p.name)]
    if native:
        names = ", ".join(f"{_wheel_name(n)} ({n})" for n in native)
        raise ConfigurationError(
            f"packages: {names} has native code, which the wasm sandbox cannot load (it takes "
            "pure-Python py3-none-any wheels only); use backend='jail' for native packages"
        )


def _wheel_name(filename: str) -> str:
    return normalize(filename.split("-")[0])


def _pin(path: Path) -> Pin:
    parts = path.name.removesuffix(".whl").split("-")
    return Pin(name=normalize(parts[0]), version=parts[1], wheel=path.name, sha256=_sha256(path))


def _lock(pins: Sequence[Pin]) -> list[dict[str, str]]:
    return [
        {"name": p.name, "version": p.version, "wheel": p.wheel, "sha256": p.sha256} for p in pins
    ]


def _top_level(site: Path) -> list[str]:
    """The importable top-level names of an installed tree."""
    names = set()
    for entry in site.iterdir():
        name = entry.name
        if entry.is_dir():
            if name.isidentifier() and name != "__pycache__":
                names.add(name)
        elif name.endswith((".py", ".so", ".pyd")):
            stem = name.split(".")[0]
            if stem.isidentifier():
                names.add(stem)
    return sorted(names)


def _imports(site: Path, wanted: Sequence[str], modules: Sequence[str]) -> list[str]:
    """The top-level modules of the requested distributions (from their RECORD)."""
    names = {_requirement_name(r) for r in wanted}
    found: list[str] = []
    for info in sorted(site.glob("*.dist-info")):
        if normalize(info.name.split("-")[0]) not in names:
            continue
        tops: list[str] = []
        top_level = info / "top_level.txt"
        if top_level.is_file():
            tops = top_level.read_text().split()
        elif (info / "RECORD").is_file():
            for line in (info / "RECORD").read_text().splitlines():
                first = line.split(",")[0].split("/")[0]
                tops.append(first.split(".")[0] if first.endswith((".py", ".so")) else first)
        for top in tops:
            if top in modules and top not in found and not top.startswith("_"):
                found.append(top)
    return found


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:32]
