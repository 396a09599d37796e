"""A Ctrl-C or a SIGTERM at any moment of a command says one line and exits with its status
(130 ``codeact: interrupted``, 143 ``codeact: terminated``), never a traceback. Was: one while
the command's modules were imported printed a traceback ending in KeyboardInterrupt and ended
the process by SIGINT (a SIGTERM there ended it with no line); one while a module made a
dataclass ended the process by SIGINT even once caught (`python -m`); one during the exit
handlers printed "Exception ignored in atexit callback ... KeyboardInterrupt" and exited 0.

Each signal is sent by the process to itself at a fixed point, by a sitecustomize of the test's
own: while a given module is imported, or as a sandbox's exit handler starts."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

ROOT = Path(__file__).resolve().parents[2]

#: Sends the signal (by number, from the environment) inside an `exec` of a string, as
#: dataclasses and namedtuple run code while a module is imported; the loop lets it be handled
#: there.
SITECUSTOMIZE = """
import atexit, os, sys
_SIG = int(os.environ["TEST_SIGNAL"])
_AT = os.environ["TEST_SIGNAL_AT"]
_SEND = "import os\\nos.kill(os.getpid(), _SIG)\\nfor _ in range(1000):\\n    pass\\n"

def _send():
    exec(_SEND, {"_SIG": _SIG})

class _AtImport:
    def find_spec(self, name, path=None, target=None):
        if name == _AT:
            sys.meta_path.remove(self)
            _send()
        return None

if _AT.startswith("atexit:"):
    _register = atexit.register

    def _register_then_signal(fn, *args, **kwargs):
        if getattr(fn, "__name__", "") != _AT[len("atexit:"):]:
            return _register(fn, *args, **kwargs)

        def signalled(*a, **k):
            _send()
            return fn(*a, **k)

        return _register(signalled, *args, **kwargs)

    atexit.register = _register_then_signal
else:
    sys.meta_path.insert(0, _AtImport())
"""


def _default_signals() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def _console_script(tmp_path: Path) -> Path:
    """The `codeact` script pip writes for pyproject's [project.scripts] entry."""
    text = (ROOT / "pyproject.toml").read_text()
    match = re.search(r'^codeact = "([\w.]+):(\w+)"$', text, re.MULTILINE)
    assert match, "pyproject.toml names the codeact script"
    script = tmp_path / "codeact-script.py"
    script.write_text(
        f"import re, sys\nfrom {match[1]} import {match[2]}\n"
        "if __name__ == '__main__':\n"
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
        f"    sys.exit({match[2]}())\n"
    )
    return script


def _run(
    args: list[str], signum: int, at: str, tmp_path: Path, *, script: bool = False
) -> subprocess.CompletedProcess[str]:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    path = [str(site), str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(path),
        "TEST_SIGNAL": str(int(signum)),
        "TEST_SIGNAL_AT": at,
        "TMPDIR": str(tmp_path),
    }
    start = [str(_console_script(tmp_path))] if script else ["-m", "codeact"]
    return subprocess.run(
        [sys.executable, *start, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        preexec_fn=_default_signals,
    )


LINES: dict[int, str] = {
    signal.SIGINT: "codeact: interrupted",
    signal.SIGTERM: "codeact: terminated",
}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize(
    "at",
    [
        "click",  # before the command line is read
        "codeact.calls.approvals",  # the command's own modules
        "codeact.sandbox.artifacts",
    ],
)
@pytest.mark.parametrize("script", [False, True], ids=["python-m", "console-script"])
def test_a_signal_while_modules_are_imported_says_one_line(
    signum: int, at: str, script: bool, tmp_path: Path
) -> None:
    program = tmp_path / "prog.py"
    program.write_text("print('hi')\n")
    done = _run(["exec", str(program)], signum, at, tmp_path, script=script)
    assert done.returncode == 128 + signum, done.stderr
    assert done.stderr.strip() == LINES[signum], done.stderr
    assert done.stdout == ""


@pytest.mark.usefixtures("wasm_ready")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_the_exit_handlers_says_one_line_after_the_clean_up(
    signum: int, tmp_path: Path
) -> None:
    program = tmp_path / "prog.py"
    program.write_text("open('/output/a.txt', 'w').write('a')\nprint('hi')\n")
    done = _run(
        ["exec", "--backend", "wasm", "--json", str(program)],
        signum,
        "atexit:_remove_root_at_exit",
        tmp_path,
    )
    assert done.returncode == 128 + signum, done.stderr
    assert done.stderr.endswith(
        "/output; pass --output-dir DIR to save them\n" + LINES[signum] + "\n"
    ), done.stderr
    assert '"stdout": "hi\\n"' in done.stdout  # the result came first, whole
    assert list(tmp_path.glob("codeact-output-*")) == []  # the clean-up was not cut short


def test_what_a_signal_left_half_made_says_nothing_after_the_line() -> None:
    """Ctrl-C while `bench sandbox` started its next event loop (inside the loop's own
    constructor) printed "Exception ignored in ... BaseEventLoop.__del__" with a traceback and
    "coroutine 'bench_sessions' was never awaited" after ``codeact: interrupted``: once the
    command has said why it ends, what half-made objects say as they are collected is not
    shown. Here such objects are made after the line, in a process that is the command."""
    code = (
        "import codeact._entry as entry\n"
        "entry._command.append(True)\n"
        "entry.say_interrupted()\n"
        "class HalfMade:\n"
        "    def __del__(self):\n"
        "        raise AttributeError('no attribute _signal_handlers')\n"
        "HalfMade()\n"
        "async def never(): pass\n"
        "never()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "codeact: interrupted\n"
