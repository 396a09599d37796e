"""A static scan of a program: which tools it may call, how often, and where.

Before a block runs, the scan lets an approval handler (or the CLI) say "this program may
call send_email twice" and approve up front. It reads the code's syntax tree, never runs it,
and counts:

* direct calls of a tool by its name: ``send_email(...)``;
* ``call_tool("send_email", ...)`` and ``call_tool_async("send_email", ...)`` with a literal name.

It cannot see everything a program may do, and says so: a call inside a loop, a
comprehension or a function is marked `repeated` (it may run any number of times), and a
tool reached in a way the scan cannot name is listed in `dynamic`: ``call_tool(name)``,
``f = send_email``, a tool or ``call_tool`` reached as an attribute
(``codeact_runner.call_tool(...)``), code run from text (``exec``, ``eval``, ``compile``),
lookups by name (``getattr``, ``vars``, ``globals``, ``__builtins__``), private and frame
attributes (``__globals__``, ``f_globals``, ``sys._getframe``), an import of any module
outside a short allowlist of plain ones (``codeact_runner``, ``sys``, ``cProfile``,
``doctest``, ``logging.config``... all reach a tool unnamed), and attributes that lead from a
plain module to another (``os.sys``), evaluate text (``typing.get_type_hints``) or read
attributes named by a string (``functools.wraps``): see `codeact.calls.scan_reach`. Such a
plan is never `complete`. The scan is advice for people, never a permission by itself: calls
beyond what was approved up front are asked one by one.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._display import visible
from .._nesting import parse_program
from ..tools import Tool
from .scan_reach import EVALUATORS, OPAQUE_BUILTINS, REACHING_NAMES, is_plain_module

__all__ = ["CallPlan", "PlannedCall", "scan_program", "scan_tool_calls"]

_CALL_TOOL = frozenset({"call_tool", "call_tool_async"})
# Names that reach any object by a string or through the interpreter's own state, and the
# functions of plain modules that run text: see `codeact.calls.scan_reach`.
_OPAQUE = OPAQUE_BUILTINS | EVALUATORS
# Attributes of frames, tracebacks, generators and coroutines that lead to namespaces.
_FRAME_ATTRS = re.compile(r"(f|tb|gi|cr|ag)_[a-z]+|_.*")
_REPEATING = (
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.Lambda,
)


@dataclass(frozen=True)
class PlannedCall:
    """The calls of one tool that appear in the code."""

    tool: str
    count: int  #: call sites in the code
    lines: tuple[int, ...]
    repeated: bool  #: a site is in a loop, comprehension or function: it may run more often
    gated: bool = False  #: the tool needs approval
    #: Each site's arguments when all of them are literals (as JSON values, by name), else
    #: None: a plan's grant for that site pre-approves only a call with these arguments.
    arguments: tuple[dict[str, Any] | None, ...] = field(default=(), compare=False, repr=False)
    #: Each site's own `repeated`.
    site_repeated: tuple[bool, ...] = field(default=(), compare=False, repr=False)

    def describe(self) -> str:
        times = "once" if self.count == 1 else "twice" if self.count == 2 else f"{self.count}x"
        where = ", ".join(str(n) for n in self.lines)
        more = ", in a loop or function: maybe more often" if self.repeated else ""
        return f"{self.tool} {times} (line{'s' if len(self.lines) > 1 else ''} {where}{more})"


@dataclass(frozen=True)
class CallPlan:
    """What a scan found: the tools the code calls, and lines it cannot account for."""

    calls: tuple[PlannedCall, ...] = ()
    dynamic: tuple[int, ...] = ()  #: lines where a tool may be called in a way not named here
    syntax_error: str | None = None
    #: The code runs in a session that holds state: definitions and values of earlier calls
    #: run in it too (a function defined before, a value restored), unseen by the scan.
    carried: bool = False

    def counts(self, *, gated_only: bool = False) -> dict[str, int]:
        """``{tool: number of call sites}``."""
        return {c.tool: c.count for c in self.calls if c.gated or not gated_only}

    @property
    def gated(self) -> tuple[PlannedCall, ...]:
        return tuple(c for c in self.calls if c.gated)

    @property
    def complete(self) -> bool:
        """True when every call the code can make is listed with its exact count."""
        repeated = any(c.repeated for c in self.calls)
        return not self.dynamic and not self.syntax_error and not repeated and not self.carried

    def describe(self, *, gated_only: bool = False) -> str:
        """One line per tool, e.g. ``send_email twice (lines 3, 7)``."""
        shown = self.gated if gated_only else self.calls
        lines = [c.describe() + (" [needs approval]" if c.gated else "") for c in shown]
        if self.dynamic:
            where = ", ".join(str(n) for n in self.dynamic)
            lines.append(f"tools reached in ways the scan cannot name (line {where})")
        if self.carried:
            lines.append("tools the session's earlier definitions and values may call")
        if self.syntax_error:
            lines.append(f"the code does not parse: {self.syntax_error}")
        return visible("\n".join(lines)) if lines else "no tool calls"


def scan_tool_calls(
    code: str,
    tools: Iterable[str],
    *,
    gated: Collection[str] = (),
    positional: Mapping[str, Sequence[str]] | None = None,
) -> CallPlan:
    """Scan `code` for calls of the tools named in `tools`; mark those in `gated`.
    `positional` names each tool's positional parameters, to read a site's arguments.

    >>> code = "send_email(to='a')\\ncall_tool('send_email', to='b')"
    >>> scan_tool_calls(code, ["send_email"]).counts()
    {'send_email': 2}
    """
    names = frozenset(tools)
    try:
        tree = parse_program(code)
    except SyntaxError as exc:
        where = f" (line {exc.lineno})" if exc.lineno else ""
        return CallPlan(syntax_error=f"{exc.msg}{where}")
    visitor = _Scanner(names, positional or {})
    try:
        visitor.visit(tree)
    except RecursionError:  # read, but nested too deep to walk: unread, so no grants
        return CallPlan(syntax_error="the program is nested too deep for the host to read")
    calls = tuple(
        PlannedCall(
            tool=name,
            count=len(sites),
            lines=tuple(line for line, _, _ in sites),
            repeated=any(rep for _, rep, _ in sites),
            gated=name in gated,
            arguments=tuple(arguments for _, _, arguments in sites),
            site_repeated=tuple(rep for _, rep, _ in sites),
        )
        for name, sites in visitor.sites.items()
    )
    return CallPlan(calls=calls, dynamic=tuple(sorted(set(visitor.dynamic))))


def scan_program(code: str, tools: Iterable[Tool]) -> CallPlan:
    """`scan_tool_calls` for a set of tools: those with ``approval_mode="always_require"`` are
    marked as gated."""
    tools = list(tools)
    gated = [t.name for t in tools if t.approval_mode == "always_require"]
    positional = {t.name: t.positional_params for t in tools}
    return scan_tool_calls(code, [t.name for t in tools], gated=gated, positional=positional)


class _Scanner(ast.NodeVisitor):
    def __init__(self, names: frozenset[str], positional: Mapping[str, Sequence[str]]) -> None:
        self.names = names
        self.positional = positional
        self.sites: dict[str, list[tuple[int, bool, dict[str, Any] | None]]] = {}
        self.dynamic: list[int] = []
        self._depth = 0  # loops, comprehensions and functions around the current node
        self._callee: set[int] = set()  # ids of Name nodes that are the function of a call

    def generic_visit(self, node: ast.AST) -> None:
        repeating = isinstance(node, _REPEATING)
        self._depth += repeating
        super().generic_visit(node)
        self._depth -= repeating

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            self._callee.add(id(func))
            if func.id in self.names:
                self._site(func.id, node, node.args, self.positional.get(func.id, ()))
            elif func.id in _CALL_TOOL:
                first = node.args[0] if node.args else None
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    if first.value in self.names:
                        self._site(first.value, node, node.args[1:], ())
                else:
                    self.dynamic.append(node.lineno)
            elif func.id in _OPAQUE:
                self.dynamic.append(node.lineno)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        # A tool (or call_tool) used as a value can be called from anywhere later.
        if (
            isinstance(node.ctx, ast.Load)
            and id(node) not in self._callee
            and (node.id in self.names or node.id in _CALL_TOOL)
        ) or node.id in _OPAQUE:
            self.dynamic.append(node.lineno)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        # `runner.call_tool(...)`, `mod.send_email`, `f.__globals__`, `frame.f_globals`,
        # `sys._getframe`: a tool reached through an object, not by its name.
        attr = node.attr
        if attr in self.names or attr in _CALL_TOOL or _reaching(attr):
            self.dynamic.append(node.lineno)
        self.generic_visit(node)

    def visit_MatchClass(self, node: ast.MatchClass) -> None:
        # `case M(call_tool=f)` reads an attribute by name, like `m.call_tool`; `case M(f)`
        # reads the attributes M.__match_args__ names, strings the program may build (and a
        # metaclass's __instancecheck__ makes any object match): attributes by a string.
        if node.patterns:
            self.dynamic.append(node.lineno)
        for attr in node.kwd_attrs:
            if attr in self.names or attr in _CALL_TOOL or _reaching(attr):
                self.dynamic.append(node.lineno)
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._import(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:  # a relative import: nothing the scan can follow
            self.dynamic.append(node.lineno)
        self._import(node.module or "", node)
        for alias in node.names:
            name = alias.name
            if name in self.names or name in _CALL_TOOL or name == "*" or _reaching(name):
                self.dynamic.append(node.lineno)

    def _import(self, module: str, node: ast.stmt) -> None:
        # Only modules known to hand out no namespace and to run no text keep a plan complete
        # (codeact_runner holds call_tool itself; cProfile, timeit, doctest run text...).
        if not is_plain_module(module):
            self.dynamic.append(node.lineno)

    def _site(
        self, name: str, node: ast.Call, args: Sequence[ast.expr], positional: Sequence[str]
    ) -> None:
        arguments = _literal_arguments(args, node.keywords, positional)
        self.sites.setdefault(name, []).append((node.lineno, self._depth > 0, arguments))


def _literal_arguments(
    args: Sequence[ast.expr], keywords: Sequence[ast.keyword], positional: Sequence[str]
) -> dict[str, Any] | None:
    """A call site's arguments by name, as the JSON values a call sends, when every one is
    a literal (``send_email("ann@example.com", subject="hi")``); None when any is computed,
    unpacked or cannot be named."""
    if len(args) > len(positional) or any(isinstance(a, ast.Starred) for a in args):
        return None
    given: dict[str, ast.expr] = dict(zip(positional, args, strict=False))  # fewer args
    for keyword in keywords:
        if keyword.arg is None or keyword.arg in given:
            return None
        given[keyword.arg] = keyword.value
    try:
        values = {name: ast.literal_eval(value) for name, value in given.items()}
        loaded: dict[str, Any] = json.loads(json.dumps(values))  # tuples read as lists...
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return None
    return loaded


def _reaching(attr: str) -> bool:
    """An attribute (or imported name) that may lead to a tool: private and frame attributes,
    builtins that look up by a string, a module outside the plain ones (`os.sys`)."""
    return attr in REACHING_NAMES or _FRAME_ATTRS.fullmatch(attr) is not None
