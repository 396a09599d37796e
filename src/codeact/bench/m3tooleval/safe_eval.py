"""An arithmetic-only evaluator for the benchmark's ``calculator`` tool.

The original M3ToolEval tools call ``eval(expression)`` on what the model wrote; on the host
that would run any Python the model likes. This evaluator parses the expression with `ast` and
walks it itself: numbers, ``+ - * / // % **``, unary signs and parentheses, nothing else (no
names, calls, attributes, subscripts, strings or comprehensions). Exponents and the size of
intermediate integers are bounded, so ``9**9**9`` is refused instead of eating the CPU.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

__all__ = ["MAX_EXPONENT", "MAX_INT_BITS", "MAX_LENGTH", "UnsafeExpression", "safe_eval"]

MAX_LENGTH = 1_000  #: characters of an expression
MAX_EXPONENT = 1_000  #: absolute value of an exponent
MAX_INT_BITS = 4_096  #: bits of any integer, given or computed

Number = int | float


class UnsafeExpression(ValueError):
    """The expression is not plain arithmetic, or is too large to compute."""


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}


def safe_eval(expression: str) -> Number:
    """The value of an arithmetic `expression` such as ``"2 + (3 * 4) / 5"``.

    Raises `UnsafeExpression` for anything but numbers and arithmetic operators, and for
    results too large to compute; `ZeroDivisionError` for a division by zero.

    >>> safe_eval("2 + (3 * 4)")
    14
    """
    if not isinstance(expression, str):
        raise UnsafeExpression(f"the expression must be a string, got {type(expression).__name__}")
    if len(expression) > MAX_LENGTH:
        raise UnsafeExpression(f"the expression is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise UnsafeExpression(f"not an arithmetic expression: {exc.msg}") from None
    return _eval(tree.body)


def _eval(node: ast.AST) -> Number:
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UnsafeExpression(f"only numbers are allowed; found {value!r}")
        return _checked(value)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _checked(_UNARY[type(node.op)](_eval(node.operand)))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        try:
            return _checked(_BINARY[type(node.op)](left, right))
        except OverflowError:
            raise UnsafeExpression("the result is too large") from None
    raise UnsafeExpression(f"only numbers and + - * / // % ** are allowed; found {_describe(node)}")


def _check_power(base: Number, exponent: Number) -> None:
    if abs(exponent) > MAX_EXPONENT:
        raise UnsafeExpression(f"exponents are limited to {MAX_EXPONENT}; got {exponent}")
    whole = isinstance(base, int) and isinstance(exponent, int) and exponent > 0
    if whole and max(int(base).bit_length(), 1) * int(exponent) > MAX_INT_BITS:
        raise UnsafeExpression("the result is too large")
    if isinstance(base, (int, float)) and base < 0 and not float(exponent).is_integer():
        raise UnsafeExpression("a negative number to a fractional power is not a real number")


def _checked(value: Any) -> Number:
    if isinstance(value, complex):
        raise UnsafeExpression("complex results are not supported")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise UnsafeExpression("the result is too large")
    if isinstance(value, float) and math.isnan(value):
        raise UnsafeExpression("the result is not a number")
    return value  # type: ignore[no-any-return]


_NAMES = {
    ast.Call: "a call",
    ast.Attribute: "an attribute access",
    ast.Name: "a name",
    ast.Subscript: "a subscript",
    ast.Lambda: "a lambda",
}


def _describe(node: ast.AST) -> str:
    for kind, text in _NAMES.items():
        if isinstance(node, kind):
            if isinstance(node, ast.Name):
                return f"the name {node.id!r}"
            return text
    if isinstance(node, ast.BinOp):
        return f"the operator {type(node.op).__name__}"
    return f"a {type(node).__name__} expression"
