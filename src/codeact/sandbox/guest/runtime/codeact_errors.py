"""What a failing program is told: its traceback without the sandbox's own frames (cut to
what the report can carry), a note for a file or import that the sandbox does not offer, and
sys.exit() as an exit status. Refused threads and sockets that say why are codeact_refusals.

Everything here turns a program's failure into text a person (or the model that wrote the
program) can act on. Runs inside the sandbox; imports only the standard library.
"""

from __future__ import annotations

import os
import posixpath
import sys
import traceback
from json.encoder import encode_basestring_ascii
from typing import Any

import codeact_host

__all__ = ["MOUNTS", "PACKAGES", "describe", "exit_report"]


# -- files -------------------------------------------------------------------------------
MOUNTS: list[tuple[str, str]] = []  # [(sandbox path, mode)] of this run, /output included


def _file_note(exc: BaseException) -> str | None:
    """A hint for an uncaught file error: which paths exist in the sandbox, and how."""
    if not isinstance(exc, OSError) or not isinstance(exc.filename, str):
        return None
    raw = exc.filename
    seen = ", ".join(
        f"{path} ({'read-write' if mode == 'rw' else 'read-only'})" for path, mode in MOUNTS
    )
    if ".." in raw.split("/"):
        return f"'..' cannot lead out of a mounted directory; the sandbox sees only {seen}"
    path = posixpath.normpath(posixpath.join(os.getcwd() if not raw.startswith("/") else "/", raw))
    for mount, mode in MOUNTS:
        if path == mount or path.startswith(mount + "/"):
            if isinstance(exc, PermissionError) and mode == "ro":
                return f"{mount} is mounted read-only; write files you want to return under /output"
            if isinstance(exc, PermissionError):
                return f"a symlink or path that leads out of {mount} cannot be followed"
            return None
    return f"{path} does not exist in the sandbox; it sees only {seen}"


# -- packages ----------------------------------------------------------------------------
PACKAGES: list[str] = []  # [path, top-level modules...] of the packages granted to this run


def _import_note(exc: BaseException) -> str | None:
    """A hint for an uncaught failed import: what the sandbox offers, or what a package lacks."""
    if not isinstance(exc, ImportError) or not isinstance(exc.name, str):
        return None
    top = exc.name.partition(".")[0]
    if "it offers the standard library" in str(exc) or (
        "in the sandbox" in str(exc) and not PACKAGES
    ):
        return None  # the sandbox's own import error said it all
    path = PACKAGES[0] if PACKAGES else None
    from_package = path and any(
        (frame.f_code.co_filename or "").startswith(path + "/")
        for frame, _ in traceback.walk_tb(exc.__traceback__)
    )
    if from_package:
        hint = (
            (
                "; the wasm sandbox has no native extensions, processes or sockets: "
                "backend='jail' runs native packages"
            )
            if path == "/packages"
            else ""
        )
        return f"a granted package needs {exc.name!r}, which this sandbox does not offer{hint}"
    if top in sys.stdlib_module_names or top in PACKAGES[1:]:
        return None
    granted = ", ".join(PACKAGES[1:]) or "none"
    return (
        f"besides the standard library, this sandbox has only the granted packages "
        f"({granted}); others must be granted on the host: CodeAct(packages=[...])"
    )


# -- time zones --------------------------------------------------------------------------
def _zone_note(exc: BaseException) -> str | None:
    """A hint for an uncaught ZoneInfoNotFoundError: the zones there are, or that there are
    none (a wasm guest built where the host had no tzdata package)."""
    if type(exc).__name__ != "ZoneInfoNotFoundError":
        return None
    import zoneinfo

    known = len(zoneinfo.available_timezones())
    if known:
        return f"zoneinfo.available_timezones() lists the {known} time zones this sandbox knows"
    return (
        "this sandbox has no time-zone data (the wasm guest takes it from the tzdata package "
        "installed with codeact on the host); a fixed offset needs none: "
        "datetime.timezone(datetime.timedelta(hours=1))"
    )


# -- tracebacks ---------------------------------------------------------------------------
#: The guest's own modules: their frames are never shown in a program's traceback.
_OWN_FILES = (
    "codeact_guest.py",
    "codeact_runner.py",
    "codeact_host.py",
    "codeact_streams.py",
    "codeact_doc.py",
    "codeact_tools.py",
    "codeact_errors.py",
    "codeact_refusals.py",
    "codeact_net.py",
    "codeact_state.py",
    "codeact_lazy.py",
    "codeact_defs.py",
    "codeact_save.py",
    "codeact_compile.py",
    "codeact_value.py",
)


def _internal(filename: str) -> bool:
    return (
        "/asyncio/" in filename
        or filename.endswith(_OWN_FILES)
        or "/codeact/sandbox/" in filename  # the jail's inside, on the host's path
        or filename.startswith("<frozen ")
        or _in_stdlib(filename)  # the program's own frames are what it can fix
    )


_STDLIB = tuple({os.path.dirname(os.__file__) + "/", sys.base_prefix.rstrip("/") + "/"})


def _in_stdlib(filename: str) -> bool:
    return filename.startswith(_STDLIB) and "-packages/" not in filename


def _trim(te: traceback.TracebackException | None, seen: set[int], budget: int) -> None:
    """Drop the runner's frames (and asyncio's machinery) from a TracebackException, and cut
    what could make its text huge: each message and note to `budget` characters of JSON, a
    syntax error's line to the part around the error, a long line of a frame's source."""
    if te is None or id(te) in seen:
        return
    seen.add(id(te))
    te.stack = traceback.StackSummary.from_list([f for f in te.stack if not _internal(f.filename)])
    for frame in te.stack:
        if len(frame.line or "") > _LINE and hasattr(frame, "colno"):
            frame.colno = None  # no carets under a line that is cut (3.11+)
    shown = getattr(te, "_str", None)
    if isinstance(shown, str):
        te._str = _cut(shown, budget)  # type: ignore[attr-defined]
    notes = getattr(te, "__notes__", None)
    if isinstance(notes, list):
        kept = [_cut(note, budget) if isinstance(note, str) else note for note in notes[:20]]
        if len(notes) > 20:
            kept.append(f"[{len(notes) - 20} more notes cut]")
        te.__notes__ = kept  # type: ignore[attr-defined]
    text = getattr(te, "text", None)
    if isinstance(text, str) and len(text) > _LINE:
        _window(te, text)
    for inner in (te.__cause__, te.__context__, *(getattr(te, "exceptions", None) or ())):
        _trim(inner, seen, budget)


#: The characters of one source line a traceback shows (a longer one is cut).
_LINE = 2000


def _window(te: Any, text: str) -> None:
    """A syntax error's line cut to `_LINE` characters around where the error is."""
    offset = te.offset if isinstance(te.offset, int) and te.offset > 0 else 1
    start = max(0, offset - 1 - _LINE // 2)
    line = text.rstrip("\n")
    head, tail = ("..." if start else ""), ("..." if start + _LINE < len(line) else "")
    te.text = head + line[start : start + _LINE] + tail + "\n"
    shift = len(head) - start
    if isinstance(te.offset, int) and te.offset > 0:
        te.offset += shift
        end = getattr(te, "end_offset", None)
        if isinstance(end, int) and end > 0:
            te.end_offset = max(te.offset + 1, min(end + shift, len(te.text)))


def _fit(text: str, budget: int) -> int:
    """How many of `text`'s first characters take at most `budget` characters of JSON
    (a character takes 1 to 12: ``\\u0001``, a surrogate pair)."""
    end = min(len(text), budget)
    while end > 0:
        size = len(encode_basestring_ascii(text[:end])) - 2
        if size <= budget:
            break
        end = min(end - 1, end * budget // size)
    return end


def _cut(text: str, budget: int) -> str:
    """`text` cut to about `budget` characters of JSON, saying how much was cut."""
    if len(text) * 12 <= budget:
        return text
    end = _fit(text, budget)
    return text if end == len(text) else f"{text[:end]}... [{len(text) - end} more characters cut]"


def _cut_middle(text: str, budget: int) -> str:
    """A traceback cut to about `budget` characters of JSON: its start and its end (the
    innermost frames and the exception), what is between them said to be cut."""
    if len(text) * 12 <= budget or len(encode_basestring_ascii(text)) - 2 <= budget:
        return text
    head = _fit(text, budget // 3)
    start = len(text) - min(len(text), budget - budget // 3)
    while start < len(text):
        size = len(encode_basestring_ascii(text[start:])) - 2
        if size <= budget - budget // 3:
            break
        start = max(start + 1, len(text) - (len(text) - start) * (budget - budget // 3) // size)
    cut = max(0, start - head)
    return f"{text[:head]}\n... [{cut} more characters cut] ...\n{text[start:]}"


def _cut_lines(chunk: str) -> str:
    """A frame of a traceback whose source line is long, each line cut to `_LINE`."""
    if len(chunk) <= 3 * _LINE or not chunk.startswith('  File "'):
        return chunk
    return "".join(
        f"{line[:_LINE]}... [{len(line) - _LINE} more characters cut]\n"
        if len(line) > _LINE
        else line
        for line in chunk.splitlines(True)
    )


def _budget() -> int:
    """Characters of JSON an error's message may take in the report (its traceback twice
    that): the report must fit its limit on the host, 2 * output_bytes + 64 KiB, even
    escaped once more in a jail's frame (up to twice as long)."""
    return max(4096, min(65536, int(codeact_host.OUTPUT.limit) // 4))


#: The most characters of an exception's type name a report carries.
_MAX_TYPE_NAME = 200
#: Freed on MemoryError so the error can be reported.
_RESERVE: bytearray | None = bytearray(2 * 1024 * 1024)


def describe(exc: BaseException, filename: str) -> dict[str, Any]:
    """What the report says of an exception: its type, message, traceback (the program's own
    frames) and line. The message and the traceback are cut to what the report can carry
    (`_budget`), saying so, without making a string of the whole first where they can."""
    global _RESERVE
    if isinstance(exc, MemoryError):
        _RESERVE = None
    lineno = None
    budget = _budget()
    try:
        note = _file_note(exc) or _import_note(exc) or _zone_note(exc)
    except BaseException:
        note = None
    try:
        te = traceback.TracebackException(type(exc), exc, exc.__traceback__, compact=True)
        _trim(te, set(), budget)
        text = "".join(_cut_lines(chunk) for chunk in te.format())
        if note:  # appended by hand: exception notes (add_note) need Python 3.11
            text += note.rstrip("\n") + "\n"
        text = _cut_middle(text, 2 * budget)
        for frame in te.stack:
            if frame.filename == filename:
                lineno = frame.lineno
        if isinstance(exc, SyntaxError) and exc.filename == filename:
            lineno = exc.lineno
    except BaseException:
        text = f"{type(exc).__name__}: (the traceback could not be formatted)\n"
    try:
        message = _cut(str(exc), budget)
    except BaseException:
        message = "(the message could not be formatted)"
    if not (type(lineno) is int and 0 <= lineno < 1 << 31):
        lineno = None  # a SyntaxError the program made itself can say anything
    name = type(exc).__name__[:_MAX_TYPE_NAME]  # a class a program made can be named anything
    lost = _frame_memory_lost(exc)
    if lost is not None:
        name, message = lost  # in the traceback's last line too (formatted or not)
        head = text.rstrip("\n").rpartition("\n")[0]
        text = f"{head}\n{name}: {message}\n" if head else f"{name}: {message}\n"
    return {"type": name, "message": message, "traceback": text, "lineno": lineno}


#: What CPython 3.11 (the jail's interpreter here) raises when a Python call cannot get
#: memory for its frame: the frame push fails without setting an exception.
_NO_FRAME = "error return without exception set"
#: Tracebacks at least this deep are a recursion's.
_DEEP = 10_000


def _frame_memory_lost(exc: BaseException) -> tuple[str, str] | None:
    """(type, message) for a deep recursion whose next call found no memory for its frame,
    else None.

    On the jail, ``sys.setrecursionlimit(10**6)`` and an endless recursion used up the
    memory limit with frames, and the run ended as "SystemError: error return without
    exception set"; the wasm guest says RecursionError for the same program.
    """
    if type(exc) is not SystemError or str(exc) != _NO_FRAME:
        return None
    depth, tb = 0, exc.__traceback__
    while tb is not None and depth < _DEEP:
        depth, tb = depth + 1, tb.tb_next
    if depth < _DEEP:  # not a recursion's: left as it is (a program can raise this too)
        return None
    return (
        "RecursionError",
        "the program exhausted the sandbox's memory with too deep recursion (its frames "
        "filled the memory limit: sys.setrecursionlimit was raised past it)",
    )


# -- sys.exit() ------------------------------------------------------------------------------
def exit_report(exc: SystemExit, report: dict[str, Any]) -> None:
    """sys.exit(n) ends the program with status n: 0 is success, anything else an error
    without a traceback (a message, as in sys.exit("why"), goes to stderr with status 1)."""
    code = exc.code  # compared by type first: `code == 0` could run the program's code
    if type(code) is int and not -(1 << 63) <= code < 1 << 63:
        report["error"] = {
            "type": "SystemExit",
            "message": f"the program exited with a whole number of {code.bit_length()} bits, "
            "too large to be an exit status",
            "traceback": "",
            "lineno": None,
        }
        return
    if code is None or type(code) is bool or type(code) is int:
        status = int(code or 0)
    else:
        try:
            sys.stderr.write(str(code) + "\n")
        except BaseException:
            pass
        status = 1
    report["exit_status"] = status
    if status != 0:
        report["error"] = {
            "type": "SystemExit",
            "message": f"the program exited with status {status}",
            "traceback": "",
            "lineno": None,
        }
