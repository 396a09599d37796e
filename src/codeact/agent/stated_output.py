"""Whether a final answer states what the last program printed (the ``dropped_output`` nudge).

A small model often ends with "Done." or "Thank you for the response!" after a program that
printed the answer; such a reply is asked once for the values. A reply states the output when
it has one of the numbers of the output's last lines (``1,234.50``, ``1234.5`` and
``1234.50`` are the same number), one of those lines, or a word of 4+ letters of them that is
not a common one ("Diana has the most" states "Diana: 120.50"). In words, more narrowly:

- a number word ("three" is 3) counts only when the output holds one number: after
  ``Diana: 120.50`` and ``Rank: 1``, "one more thing" states nothing;
- a yes or a no counts only when the output's value lines are all that yes or that no (a
  line's value is what follows its last ``:`` or ``=``; a last bare ``None`` after other
  lines is the ``print(main())`` slip, not a value): after ``True`` (``found: True``, JSON
  ``true``) a yes ("Yes.", "Correct"); after ``False``, ``None``, ``null``, an empty ``[]``,
  ``{}``, ``()``, ``set()``, ``''`` or ``0``, a no ("No.", "There are no matching orders.",
  "None of them", "It is empty", "isn't"). After ``Top customer: Diana with 120.50`` and
  ``None``, the "n't" of "Don't hesitate to ask" stated nothing, and was taken as the answer;
- stock phrases are no statement at all: "don't hesitate", "no problem", "no worries", "not
  sure", "let me know", "if not", "if you need", "nothing else", "anything else", "one more".

The reply is matched with its look-alikes made plain (``don’t`` is ``don't``). Each rejected
answer costs a turn with the whole history and replaces the answer, so a value stated in
words counts; a filler reply that states nothing is asked once.
"""

from __future__ import annotations

import re

from .._plain_text import plain

__all__ = ["drops_output"]

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")

_NUMBER_WORDS = {
    word: float(n)
    for n, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}

#: A line's value (after its last ``:`` or ``=``) that is a yes, and one that is a no.
_YES_VALUES = frozenset({"true"})
_NO_VALUES = frozenset(
    {"false", "none", "null", "nil", "[]", "{}", "()", "set()", "''", '""', "0", "0.0", "-0.0"}
)
_YES_WORDS = re.compile(r"\b(?:yes|yeah|yep|true|correct|indeed|affirmative|confirmed)\b")
_NO_WORDS = re.compile(
    r"\b(?:no|not|none|nothing|nobody|empty|zero|false|never|neither|nor|without)\b"
    r"|n't\b"
)
#: Phrases that state no value, whatever their "no", "not" or "one".
_STOCK_PHRASES = re.compile(
    r"\b(?:do not|don't|dont) hesitate\b|\bno (?:problem|worries|need)\b|\bnot (?:sure|at all)\b"
    r"|\blet me know\b|\bif not\b|\bif you (?:need|have|want)\b|\b(?:nothing|anything) else\b"
    r"|\bno further\b|\bone (?:more|last|moment|other)\b|\bfeel free\b"
)


def drops_output(reply: str, output: str) -> bool:
    """Whether `reply` leaves out everything the program printed (see the module)."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()][-10:]
    if not lines:
        return False
    lowered = _STOCK_PHRASES.sub(" ", plain(reply).lower())
    numbers = {_norm(n) for line in lines for n in _NUMBER.findall(line)} - {None}
    stated = {_norm(n) for n in _NUMBER.findall(lowered)}
    if len(numbers) == 1:
        stated |= {_NUMBER_WORDS[w] for w in re.findall(r"[a-z]+", lowered) if w in _NUMBER_WORDS}
    if numbers & stated:
        return False
    if any(line.lower() in lowered for line in lines):
        return False
    values = {_value_of(line) for line in lines}
    if len(lines) > 1 and lines[-1] == "None":  # print(main()) of a main that printed
        values = {_value_of(line) for line in lines[:-1]}
    if values <= _YES_VALUES and _YES_WORDS.search(lowered):
        return False
    if values <= _NO_VALUES and _NO_WORDS.search(lowered):
        return False
    words = {w for line in lines for w in re.findall(r"[a-z]{4,}", line.lower())} - _COMMON
    return not any(re.search(rf"\b{w}\b", lowered) for w in words)


def _value_of(line: str) -> str:
    """The value a printed line ends with: after its last ``:`` or ``=`` (``found: True``),
    lowercased, without a final full stop; the whole line when it has neither."""
    tail = re.split(r"[:=]", line)[-1] if re.search(r"[:=]\s*\S", line) else line
    return tail.strip().rstrip(".").lower()


_COMMON = frozenset(
    {
        "that",
        "this",
        "with",
        "from",
        "have",
        "were",
        "will",
        "what",
        "your",
        "there",
        "their",
        "they",
        "them",
        "then",
        "than",
        "done",
        "thank",
        "thanks",
        "response",
        "result",
        "results",
        "output",
        "printed",
        "program",
        "answer",
        "total",
        "none",
        "true",
        "false",
        "value",
        "values",
    }
)


def _norm(number: str) -> float | None:
    try:
        return round(float(number.replace(",", "")), 6)
    except ValueError:
        return None
