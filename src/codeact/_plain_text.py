"""A model's text with its Unicode look-alikes made plain, for matching words in it.

Chat models write typographic apostrophes and quotes ("I haven’t sent it", "you’re"), and
text may hold non-breaking or zero-width spaces, dashes, fullwidth letters or a letter from
another script that looks Latin. A rule written with ASCII ``'`` missed "haven’t", and the
email the answer said it had not sent was sent (`codeact.chat.fence_programs`). Only for
matching: the text itself is never changed.
"""

from __future__ import annotations

import unicodedata

__all__ = ["plain"]

_APOSTROPHES = "\u2018\u2019\u201a\u201b\u02bc\u02b9\u02bb\u02bd\u2032\u2035\u00b4\uff07"
_QUOTES = "\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\u301d\u301e\uff02"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"
#: Cyrillic and Greek letters that look like Latin ones.
_LOOKALIKES = {
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i",
    "ј": "j", "ѕ": "s", "ԁ": "d", "һ": "h", "ӏ": "l", "ο": "o", "ν": "v", "τ": "t",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
    "С": "C", "Т": "T", "Х": "X", "І": "I", "Ѕ": "S", "Ј": "J",
    "Α": "A", "Β": "B", "Ε": "E", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Χ": "X", "Υ": "Y", "Ζ": "Z",
}  # fmt: skip
_TABLE = str.maketrans(
    {
        **dict.fromkeys(map(ord, _APOSTROPHES), "'"),
        **dict.fromkeys(map(ord, _QUOTES), '"'),
        **dict.fromkeys(map(ord, _DASHES), "-"),
        **dict.fromkeys(map(ord, _INVISIBLE), None),
        **{ord(k): v for k, v in _LOOKALIKES.items()},
    }
)


def plain(text: str) -> str:
    """`text` with look-alike quotes, apostrophes, dashes, spaces and letters made ASCII
    (NFKC first: fullwidth letters, ligatures and odd spaces)."""
    return unicodedata.normalize("NFKC", text.translate(_TABLE)).translate(_TABLE)
