"""pip as a subprocess: download and install wheels with the user's own pip configuration.

pip reads the index, extra indexes, proxies and certificates from the user's pip.conf and
``PIP_*`` variables, so codeact resolves packages exactly as ``pip install`` would on this
machine. Its failures become one line that says what went wrong and how to fix it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence

from ...errors import ConfigurationError

__all__ = ["NoMatchingWheel", "download", "guest_options", "install", "pip_available"]

_COMMON = ("--disable-pip-version-check", "--no-input", "--progress-bar", "off")
_TIMEOUT = 900.0  # pandas and its dependencies on a slow link


class NoMatchingWheel(ConfigurationError):
    """pip found no wheel that fits a requirement (unknown name, no version that fits, or
    none for the Python resolved for)."""


def guest_options(python: str | None) -> list[str]:
    """pip's options that resolve for a pure-Python guest of CPython `python` ("3.14")
    whatever this host runs: ``py3-none-any`` wheels and those of that Python, its
    ``Requires-Python`` and its environment markers. None: this host's Python (no options)."""
    if python is None:
        return []
    return ["--platform", "any", "--python-version", python, "--implementation", "py",
            "--abi", "none"]  # fmt: skip


def pip_available() -> str:
    """ "" when ``python -m pip`` works in this Python, else why not."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "--version"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return "" if proc.returncode == 0 else (proc.stderr.strip().splitlines() or ["failed"])[-1]


def download(
    requirements: Sequence[str],
    dest: str,
    *,
    wheelhouse: str | None,
    what: str,
    python: str | None = None,
) -> None:
    """`pip download` the wheels of `requirements` and their dependencies into `dest`.

    `wheelhouse`: a directory of wheels to use instead of the index (offline).
    `python`: resolve for a pure-Python guest of that CPython (`guest_options`), not this host.
    """
    source = ["--no-index", "--find-links", wheelhouse] if wheelhouse else []
    _pip(
        [
            "download",
            *_COMMON,
            "--only-binary=:all:",
            *guest_options(python),
            "--dest",
            dest,
            *source,
            *requirements,
        ],
        what=what,
        wheelhouse=wheelhouse,
        python=python,
    )


def install(
    lock_file: str,
    wheels: str,
    target: str,
    *,
    compile_: bool,
    what: str,
    python: str | None = None,
) -> None:
    """Install exactly the hashed pins of `lock_file` from `wheels` into the tree `target`
    (`python`: for that guest's CPython, as `download`)."""
    _pip(
        [
            "install",
            *_COMMON,
            "--no-index",
            "--find-links",
            wheels,
            "--require-hashes",
            "--no-deps",
            "--only-binary=:all:",
            *guest_options(python),
            "--target",
            target,
            "--compile" if compile_ else "--no-compile",
            "-r",
            lock_file,
        ],
        what=what,
        wheelhouse=wheels,
        python=python,
    )


def _pip(args: list[str], *, what: str, wheelhouse: str | None, python: str | None) -> None:
    env = dict(os.environ)
    # --target and download need no virtual environment, and cannot combine with these.
    for name in ("PIP_REQUIRE_VIRTUALENV", "PIP_USER", "PIP_TARGET", "PIP_PREFIX", "PIP_ROOT"):
        env.pop(name, None)
    env.setdefault("PIP_DEFAULT_TIMEOUT", "30")
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", *args],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise ConfigurationError(
            f"packages {what}: pip took longer than {_TIMEOUT:g}s; check the network to the "
            "package index, or pass a wheelhouse directory (--find-links) to work offline"
        ) from None
    except OSError as exc:
        raise ConfigurationError(f"packages {what}: cannot run pip ({exc})") from None
    if proc.returncode != 0:
        output = proc.stdout + "\n" + proc.stderr
        message = f"packages {what}: {explain(output, wheelhouse=wheelhouse, python=python)}"
        if "No matching distribution found for" in output and not _network_problem(output):
            raise NoMatchingWheel(message)
        raise ConfigurationError(message)


def explain(stderr: str, *, wheelhouse: str | None, python: str | None = None) -> str:
    """One line from pip's error output: the cause, and what to do about it."""
    text = stderr.strip()
    if "No module named pip" in text:
        return f"pip is not installed in {sys.executable}; install it (python -m ensurepip)"
    if "DO NOT MATCH THE HASHES" in text:
        wheel = re.search(r"(\S+\.whl)", text)
        return (
            f"the wheel {wheel.group(1) if wheel else ''} does not match its recorded hash "
            "(changed or corrupted); remove it from the cache (codeact sandbox packages "
            "remove) and add the packages again"
        )
    if "ResolutionImpossible" in text or "conflicting dependencies" in text:
        cause = re.search(r"conflict is caused by:[ \t]*\n(.*?)(?:\n[ \t]*\n|$)", text, re.S)
        detail = "; ".join(ln.strip() for ln in cause.group(1).splitlines()) if cause else ""
        detail = detail[:300] or "see pip's output"
        return f"the requested versions conflict ({detail}); loosen or drop a pin"
    missing = re.search(r"No matching distribution found for (\S+)", text)
    if missing:
        where = f"in the wheelhouse {wheelhouse}" if wheelhouse else "on the package index"
        network = _network_problem(text)
        if network and not wheelhouse:
            return (
                f"cannot reach the package index ({network}) to find {missing.group(1)}; check "
                "the network or pip's index settings, or pass a wheelhouse directory "
                "(--find-links) to work offline"
            )
        which = f"the sandbox's Python {python} (pure-Python wheels)" if python else "this Python"
        return (
            f"no wheel for {missing.group(1)} {where} (unknown name, no version that fits, "
            f"or no wheel for {which}); check the name and version"
        )
    network = _network_problem(text)
    if network:
        return (
            f"cannot reach the package index ({network}); check the network or pip's index "
            "settings, or pass a wheelhouse directory (--find-links) to work offline"
        )
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("ERROR")]
    last = lines[-1] if lines else (text.splitlines() or ["pip failed"])[-1]
    return last.removeprefix("ERROR:").strip()


def _network_problem(text: str) -> str:
    for pattern in (
        r"Failed to establish a new connection: ([^'\")]+)",
        r"(Temporary failure in name resolution)",
        r"(Name or service not known)",
        r"(Connection refused)",
        r"(Network is unreachable)",
        r"(Read timed out)",
        r"(SSLError[^)]*)",
        r"(ProxyError[^)]*)",
    ):
        found = re.search(pattern, text)
        if found:
            return found.group(1).strip().rstrip(",")
    return ""
