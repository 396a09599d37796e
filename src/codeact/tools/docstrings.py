"""Read a tool's description, parameter descriptions and return description from its docstring.

Google style (``Args:`` / ``Returns:``), Sphinx style (``:param x:`` / ``:returns:``) and
NumPy style (``Parameters`` / ``----------``) are understood; anything else is description.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

__all__ = ["Docstring", "parse_docstring"]

_GOOGLE_PARAM_HEADERS = {"args", "arguments", "parameters", "params", "keyword args"}
_GOOGLE_RETURN_HEADERS = {"returns", "return", "yields"}
_GOOGLE_OTHER_HEADERS = {"raises", "examples", "example", "note", "notes", "see also", "attributes"}
_SECTION = re.compile(r"^([A-Za-z][A-Za-z ]*):\s*$")
_GOOGLE_ITEM = re.compile(r"^(\*{0,2}\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
_SPHINX_PARAM = re.compile(r"^:param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$")
_SPHINX_RETURN = re.compile(r"^:returns?\s*:\s*(.*)$")
_SPHINX_OTHER = re.compile(r"^:\w+")


@dataclass
class Docstring:
    """What a docstring says: a description, per-parameter text, and what the tool returns."""

    description: str = ""
    params: dict[str, str] = field(default_factory=dict)
    returns: str = ""


def parse_docstring(doc: str | None) -> Docstring:
    """Split a docstring into description, parameter descriptions and return description.

    >>> d = parse_docstring('''Add numbers.
    ...
    ... Args:
    ...     a: The first.
    ...     b: The second.
    ... ''')
    >>> d.description, d.params
    ('Add numbers.', {'a': 'The first.', 'b': 'The second.'})
    """
    if not doc:
        return Docstring()
    lines = inspect.cleandoc(doc).splitlines()
    if any(
        _SPHINX_PARAM.match(line.strip()) or _SPHINX_RETURN.match(line.strip()) for line in lines
    ):
        return _parse_sphinx(lines)
    if any(
        line.strip() in ("Parameters", "Returns") and i + 1 < len(lines) and _is_rule(lines[i + 1])
        for i, line in enumerate(lines)
    ):
        return _parse_numpy(lines)
    return _parse_google(lines)


def _is_rule(line: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= 3 and set(stripped) == {"-"}


def _join(parts: list[str]) -> str:
    return " ".join(p.strip() for p in parts if p.strip())


def _parse_google(lines: list[str]) -> Docstring:
    result = Docstring()
    description: list[str] = []
    section: str | None = None
    current: str | None = None
    returns: list[str] = []
    for line in lines:
        header = _SECTION.match(line)
        if header and not line.startswith((" ", "\t")):
            name = header.group(1).strip().lower()
            if name in _GOOGLE_PARAM_HEADERS | _GOOGLE_RETURN_HEADERS | _GOOGLE_OTHER_HEADERS:
                section, current = name, None
                continue
        if section is None:
            description.append(line)
        elif section in _GOOGLE_PARAM_HEADERS:
            item = _GOOGLE_ITEM.match(line.strip())
            indent = len(line) - len(line.lstrip())
            if item and (current is None or indent <= _param_indent(lines, section)):
                current = item.group(1).lstrip("*")
                result.params[current] = item.group(3).strip()
            elif current and line.strip():
                result.params[current] = _join([result.params[current], line])
        elif section in _GOOGLE_RETURN_HEADERS:
            returns.append(line)
    result.description = "\n".join(description).strip()
    result.returns = _join(returns)
    return result


def _param_indent(lines: list[str], _section: str) -> int:
    """Indentation of parameter names: the smallest indent inside any section."""
    indents = [len(line) - len(line.lstrip()) for line in lines if line.startswith((" ", "\t"))]
    return min(indents) if indents else 0


def _parse_sphinx(lines: list[str]) -> Docstring:
    result = Docstring()
    description: list[str] = []
    current: str | None = None
    in_returns = False
    for line in lines:
        stripped = line.strip()
        param = _SPHINX_PARAM.match(stripped)
        ret = _SPHINX_RETURN.match(stripped)
        if param:
            current, in_returns = param.group(1), False
            result.params[current] = param.group(2).strip()
        elif ret:
            current, in_returns = None, True
            result.returns = ret.group(1).strip()
        elif _SPHINX_OTHER.match(stripped):
            current, in_returns = None, False
        elif current and stripped:
            result.params[current] = _join([result.params[current], stripped])
        elif in_returns and stripped:
            result.returns = _join([result.returns, stripped])
        elif current is None and not in_returns:
            description.append(line)
    result.description = "\n".join(description).strip()
    return result


def _parse_numpy(lines: list[str]) -> Docstring:
    result = Docstring()
    description: list[str] = []
    section: str | None = None
    current: str | None = None
    returns: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if i + 1 < len(lines) and _is_rule(lines[i + 1]) and line.strip():
            section, current = line.strip().lower(), None
            i += 2
            continue
        if section is None:
            description.append(line)
        elif section == "parameters":
            if line and not line.startswith((" ", "\t")):
                current = line.split(":")[0].strip()
                result.params[current] = ""
            elif current:
                result.params[current] = _join([result.params[current], line])
        elif section == "returns" and line.startswith((" ", "\t")):
            returns.append(line)
        i += 1
    result.description = "\n".join(description).strip()
    result.returns = _join(returns)
    return result
