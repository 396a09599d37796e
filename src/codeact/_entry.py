"""How the `codeact` command starts and ends. The console script and `python -m codeact` both
call `run`, which imports only the standard library before it is ready for a signal, so that a
Ctrl-C or a SIGTERM at any moment of any command says one line and exits with the documented
status, never a traceback:

- Ctrl-C: ``codeact: interrupted``, 130; SIGTERM (`timeout`, `docker stop`, a supervisor):
  ``codeact: terminated``, 143; SIGHUP (the terminal closed): the same, 129.
- While the command's modules are imported and it sets up: the KeyboardInterrupt (or
  `Terminated`) is caught here.
- While it runs: the command's own handling (the program is stopped, what it printed shown).
- Once it has ended (its clean-up, the exit handlers that remove the sandboxes' directories): a
  signal is noted, not raised, so that the clean-up is not cut short; its line and status come
  last. A second signal then ends the process at once, as `exit_now` does.

`codeact/__init__.py` imports its names lazily for this: `import codeact` is quick.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
from types import FrameType

TYPE_CHECKING = False  # not typing's: imported before anything else, this stays quick
if TYPE_CHECKING:
    from typing import NoReturn

__all__ = [
    "EXIT_INTERRUPTED",
    "TERM_GRACE_S",
    "Terminated",
    "arm",
    "exit_cleanly_on_ending_signals",
    "exit_now",
    "run",
    "say_interrupted",
    "say_terminated",
]

EXIT_INTERRUPTED = 128 + signal.SIGINT

#: How long the orderly exit after SIGTERM may take before the process ends anyway: a thread
#: blocked in a read nothing can cancel (serve-mcp's stdin) would hold it open for ever.
TERM_GRACE_S = 2.0

#: Signals whose default action would end the process without its clean-up: SIGTERM
#: (`timeout`, `docker stop`, a supervisor) and SIGHUP (the terminal closed).
_ENDING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Terminated(SystemExit):
    """Raised in the main thread by SIGTERM or SIGHUP: unwinds like `sys.exit(128 + n)`."""


#: Taken by whichever says the command's last line ("codeact: interrupted" or "terminated"):
#: it is said once, whether by the command, by `run`, by the exit handler or by `exit_now`.
_said = threading.Lock()
#: The status of a signal that came once the command had ended (see `_note`).
_noted: list[int] = []
#: This process is the `codeact` command (`run`), not a test calling its parts.
_command: list[bool] = []


def arm() -> None:
    """A command starts: nothing said, nothing noted (one process runs several under tests)."""
    global _said
    _said = threading.Lock()
    _noted.clear()


def _say_once(status: int) -> bool:
    """Say why the command ends on stderr, unless that was said already; whether it said it."""
    if not _said.acquire(blocking=False):
        return False
    word = "interrupted" if status == EXIT_INTERRUPTED else "terminated"
    with contextlib.suppress(Exception):  # stderr closed or gone: the status still tells
        if sys.stderr is not None:
            sys.stderr.write(f"codeact: {word}\n")
            sys.stderr.flush()
    if _command:
        _quiet_from_now()
    return True


def _quiet_from_now() -> None:
    """The command said why it ends: what objects the signal left half made say as they are
    collected (an event loop interrupted in its constructor: "Exception ignored in ...
    __del__", a coroutine never awaited) is not the user's business, and would follow the
    one line that is."""
    import warnings

    sys.unraisablehook = lambda unraisable: None
    warnings.filterwarnings("ignore", message="coroutine .* was never awaited")


def say_interrupted() -> None:
    _say_once(EXIT_INTERRUPTED)


def say_terminated() -> None:
    _say_once(128 + signal.SIGTERM)


def exit_now(status: int) -> NoReturn:
    """End the process now (the orderly exit is stuck, or a second signal asks for it): remove
    the sandboxes' host directories, say why, and end."""
    artifacts = sys.modules.get("codeact.sandbox.artifacts")  # not imported: none was made
    with contextlib.suppress(Exception):
        if artifacts is not None:
            artifacts.remove_process_tree()
    _say_once(status)
    os._exit(status)


def _on_ending_signal(signum: int, frame: FrameType | None) -> None:
    signal.signal(signum, signal.SIG_DFL)  # a second one ends the process at once
    timer = threading.Timer(TERM_GRACE_S, exit_now, args=(128 + signum,))
    timer.daemon = True
    timer.start()
    raise Terminated(128 + signum)


def exit_cleanly_on_ending_signals() -> None:
    """SIGTERM and SIGHUP raise `Terminated`, each where it is at its default (not ignored, as
    under nohup, nor handled by whoever started us)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _ENDING:
        if signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _on_ending_signal)


def _note(signum: int, frame: FrameType | None) -> None:
    """A signal once the command has ended: noted, for `_at_last`; a second one ends now."""
    if _noted:
        exit_now(_noted[0])
    _noted.append(128 + signum)


def _note_signals_from_now() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, *_ENDING):
        with contextlib.suppress(ValueError, OSError, TypeError):
            if signal.getsignal(signum) is not signal.SIG_IGN:
                signal.signal(signum, _note)


def _at_last() -> None:
    """The last exit handler (the first registered): a signal noted during the clean-up ends
    the process with its line and status, now that the clean-up is done. One that comes later
    is ignored: the interpreter's own finalization would let it end the process with no line
    and no status (it puts the default action back)."""
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, *_ENDING):
            with contextlib.suppress(ValueError, OSError, TypeError):
                if signal.getsignal(signum) is _note:
                    signal.signal(signum, signal.SIG_IGN)
    if _noted and _say_once(_noted[0]):
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                if stream is not None:
                    stream.flush()
        os._exit(_noted[0])


def _forget_caught_interrupts() -> None:
    """CPython remembers a KeyboardInterrupt that ended an `exec` of a string (dataclasses and
    namedtuple make their methods so, while a module is imported) even once it was caught, and
    under `python -m` then ends the process with SIGINT at its exit, not with its status: an
    `exec` of a string forgets it (no KeyboardInterrupt is raised from here on: `_note`)."""
    exec("None", {})


def run() -> NoReturn:
    """The `codeact` command: the console script's entry point and `python -m codeact`."""
    _command.append(True)
    arm()
    atexit.register(_at_last)
    exit_cleanly_on_ending_signals()
    try:
        try:
            from .cli import main

            main(prog_name="codeact")
        finally:
            _note_signals_from_now()
            _forget_caught_interrupts()
    except KeyboardInterrupt:
        say_interrupted()
        sys.exit(EXIT_INTERRUPTED)
    except Terminated:
        say_terminated()
        raise
    sys.exit(0)
