"""A program whose last line stops inside a string: closed, run, and the model told.

The embedded model's first programs sometimes end one step short: the last line is
``print(f"Total: {total:.2f}`` with the closing ``")`` missing (3 of 20 demo runs of one
commit). The program is right but for those two characters, and the sandbox would only
answer with a SyntaxError, after which a small model often sends the same program again.
When the parser's error is an unterminated string on the program's last line, and closing
that string (and the brackets the line leaves open) makes the program parse, the closed
program runs and the model is told what was added (`closed_note`). Nothing else is changed:
any other syntax error is the program's own, reported by the sandbox with its line.
"""

from __future__ import annotations

import itertools

from .._nesting import parse_program
from .program_check import NOTE_MARKER

__all__ = ["close_cut_string", "closed_note"]

_QUOTES = ('"', "'")
_CLOSERS = ("", ")", "))", "]", ")]", "])", "}", ")}")


def close_cut_string(code: str) -> tuple[str, str] | None:
    """``(closed program, what was added)`` when the program's last line ends inside a string
    literal and adding a quote and closing brackets there makes the program parse; None
    otherwise (it parses already, or fails for another reason)."""
    try:
        parse_program(code)
        return None
    except SyntaxError as exc:
        message, line = str(exc.msg), exc.lineno
    except ValueError:  # a NUL byte: not a cut program
        return None
    body = code.rstrip()
    last = body.count("\n") + 1
    if line != last or not _unterminated_string(message):
        return None
    for quote, closers in itertools.product(_QUOTES, _CLOSERS):
        added = quote + closers
        try:
            parse_program(body + added)
        except (SyntaxError, ValueError):
            continue
        return body + added + "\n", added
    return None


def closed_note(added: str, line: int) -> str:
    """What the model is told about the program it sent (after the program's output)."""
    return (
        f"{NOTE_MARKER} the program's last line (line {line}) ended inside a string; it was "
        f"closed with `{added}` and run. End every string and call you open."
    )


def _unterminated_string(message: str) -> bool:
    """The parser's words for a string that runs to the end of its line (3.10-3.14)."""
    return ("unterminated" in message and "string" in message) or "EOL while scanning" in message
