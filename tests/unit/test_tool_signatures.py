"""Tools: the Python signature the model reads is valid Python for every kind of parameter."""

from __future__ import annotations

import ast

import pytest

from codeact import ToolDefinitionError, tool


def _parses(signature: str) -> None:
    """The signature (without its return type) is a valid `def` header."""
    head = signature.rsplit(" -> ", 1)[0]
    ast.parse(f"def {head}: pass")


def test_keyword_only_parameters_share_one_star() -> None:
    @tool
    def f2(x: int, *, a: int, b: int = 1, c: str = "") -> int:
        """Pos then three kw-only."""
        return a

    assert f2.signature == "f2(x: int, *, a: int, b: int = 1, c: str = '') -> int"
    _parses(f2.signature)


def test_only_keyword_only_parameters() -> None:
    @tool
    def f1(*, a: int, b: int = 2) -> int:
        """Two kw-only."""
        return a

    assert f1.signature == "f1(*, a: int, b: int = 2) -> int"
    _parses(f1.signature)


def test_positional_only_parameters_are_refused_with_their_fix() -> None:
    with pytest.raises(ToolDefinitionError, match=r"positional-only.*remove the '/'"):

        @tool
        def f(a: int, /, b: int) -> int:
            """Positional-only."""
            return a
