#!/usr/bin/env python3
"""Set up the project's virtual environment and run its main jobs; needs only Python 3.10+.

    python3 ./dev.py demo [ARGS...]     the order-totals demo on the embedded model (codeact demo)
    python3 ./dev.py test [ARGS...]     ruff, mypy and the whole pytest suite (ARGS go to pytest)
    python3 ./dev.py codeact [ARGS...]  the codeact command line, e.g. codeact exec prog.py
    python3 ./dev.py shell              print the path of the environment's Python

The environment lives in .venv (override with CODEACT_VENV); .venv/bin/codeact is the command
line. It is installed from this checkout (pip install -e) and reinstalled only when
pyproject.toml changed or a job needs an extra that is not installed yet; pip's own output
shows what it installs.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("CODEACT_VENV", ROOT / ".venv"))
EXTRAS = {"demo": "local", "test": "dev", "codeact": "", "shell": ""}
STAMP = ".codeact-installed"


def venv_python() -> Path:
    if os.name == "nt":
        return VENV / "Scripts" / "python.exe"
    return VENV / "bin" / "python"


def run(*cmd: str | Path, setup: bool = False) -> int:
    """Run `cmd`; `setup`: its output goes to stderr, as this script's own lines do, so that
    stdout holds only what the command asked for (``$(python3 ./dev.py shell)``, a JSON)."""
    print("+", " ".join(str(c) for c in cmd), file=sys.stderr, flush=True)
    out = sys.stderr if setup else None
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, stdout=out)


def ensure_env(extras: str) -> Path:
    """Create .venv and install the project with `extras` unless that is already done. The
    extras installed before stay installed (a job never takes away what another needs)."""
    if sys.version_info < (3, 10):  # noqa: UP036 - dev.py may be run by an older python3
        sys.exit(f"codeact needs Python 3.10 or newer; this is {sys.version.split()[0]}")
    python = venv_python()
    if not python.exists():
        print(f"creating {VENV} with {sys.executable}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    wanted = {e for e in extras.split(",") if e}
    stamp = VENV / STAMP
    installed = _read_stamp(stamp)
    had = installed.get("extras") if installed else None
    have = {str(e) for e in had} if isinstance(had, list) else set()
    if installed is not None and installed.get("digest") == digest and wanted <= have:
        return python
    union = sorted(wanted | have)
    target = f".[{','.join(union)}]" if union else "."
    print(
        f"installing codeact from this checkout into {VENV} (pip install -e '{target}'); "
        "the first time this downloads its dependencies"
        + (" (the local extra is a 1.1 GB model)" if "local" in union else ""),
        file=sys.stderr,
        flush=True,
    )
    if run(python, "-m", "pip", "install", "--upgrade", "pip", setup=True) != 0:
        sys.exit("could not upgrade pip in the virtual environment (see the output above)")
    if run(python, "-m", "pip", "install", "-e", target, setup=True) != 0:
        sys.exit(f"installing codeact{target[1:]} failed (see the output above)")
    stamp.write_text(json.dumps({"digest": digest, "extras": union}))
    return python


def _read_stamp(stamp: Path) -> dict[str, object] | None:
    try:
        data = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    if not argv or argv[0] not in EXTRAS:
        if argv:
            jobs = ", ".join(EXTRAS)
            print(f"dev.py: unknown job {argv[0]!r}; choose one of: {jobs}\n", file=sys.stderr)
        print(__doc__, file=sys.stderr)
        return 2
    job, rest = argv[0], argv[1:]
    python = ensure_env(EXTRAS[job])
    if job == "shell":
        print(python)
        return 0
    if job == "demo":
        return run(python, "-m", "codeact", "demo", *rest)
    if job == "codeact":
        return subprocess.call([str(python), "-m", "codeact", *rest])  # stdin/out untouched
    checks: list[list[str | Path]] = [
        [python, "-m", "ruff", "check", "src", "tests", "scripts", "dev.py"],
        [python, "-m", "ruff", "format", "--check", "src", "tests", "scripts", "dev.py"],
        [python, "-m", "mypy"],
    ]
    for step in checks:
        if run(*step) != 0:
            print(f"failed: {' '.join(str(s) for s in step)}", file=sys.stderr)
            return 1
    return run(python, "-m", "pytest", *rest)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # Ctrl-C: the job (codeact, pytest, pip) said so already
        sys.exit(130)
    except BrokenPipeError:  # `dev.py ... | head`: the reader went away
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
