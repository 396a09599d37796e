"""`Tool`, a host function described for a model, and the `@tool` decorator that makes one."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeAlias, TypeVar, overload

import pydantic

from .._nesting import (
    ARGUMENTS_TOO_DEEP,
    MAX_ARGUMENT_DEPTH,
    TooDeep,
    cycle_in,
    loads_within,
    nests_deeper,
    too_deep,
)
from ..errors import ToolDefinitionError
from .callables import (
    SANDBOX_RESERVED_NAMES,
    check_name,
    check_options,
    check_returns_once,
    docstring_of,
    is_async,
)
from .docstrings import parse_docstring
from .from_parse import model_from_parse
from .json_schema import (
    JsonArgumentsError,
    JsonArgumentsSchema,
    arguments_note,
    build_json_schema,
)
from .problems import validation_problems
from .results import to_json_value
from .schema import FunctionSchema, GuestParam, build_function_schema

__all__ = [
    "SANDBOX_RESERVED_NAMES",
    "ApprovalMode",
    "Tool",
    "ToolArgumentsError",
    "as_tool",
    "tool",
]

#: Whether a call of the tool must be approved first (names as in Microsoft Agent Framework).
ApprovalMode: TypeAlias = Literal["never_require", "always_require"]

F = TypeVar("F", bound=Callable[..., Any])


class ToolArgumentsError(ValueError):
    """The arguments given for a tool call do not match its parameters."""


class Tool:
    """A host function that a model may call, with its schema and its description.

    Made by `@tool`; calling a `Tool` calls the function unchanged.

    >>> @tool
    ... def add(a: int, b: int = 1) -> int:
    ...     '''Add two numbers.'''
    ...     return a + b
    >>> add.signature
    'add(a: int, b: int = 1) -> int'
    >>> add(2, 3)
    5
    """

    __slots__ = (
        "__wrapped__",
        "_schema",
        "approval_mode",
        "description",
        "fn",
        "is_async",
        "name",
        "returns_doc",
        "timeout",
    )

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        approval_mode: ApprovalMode = "never_require",
        timeout: float | None = None,
    ) -> None:
        if isinstance(fn, str):  # tool("get_weather"): a name where the function goes
            raise ToolDefinitionError(
                f"a tool must wrap a function, got the string {fn[:60]!r}; to name a tool, "
                "write @tool(name=...) above the function"
            )
        if not callable(fn):
            raise ToolDefinitionError(f"a tool must wrap a function, got {type(fn).__name__}")
        if name is not None and (not isinstance(name, str) or not name):
            raise ToolDefinitionError(
                f"a tool's name must be a non-empty string, got name={name!r}; leave name= out "
                "to name the tool after its function"
            )
        tool_name = name or getattr(fn, "__name__", None)
        if tool_name == "<lambda>":
            raise ToolDefinitionError(
                "a lambda has no name for the model to call it by: pass @tool(name=...) "
                "(tool(name='add')(lambda a, b: a + b)), or write a def with annotations"
            )
        if not isinstance(tool_name, str) or not tool_name:
            raise ToolDefinitionError(
                f"cannot tell the name of {fn!r}; pass @tool(name=...) to name the tool"
            )
        check_name(tool_name)
        check_options(tool_name, approval_mode, timeout)
        check_returns_once(fn, tool_name)
        doc = parse_docstring(docstring_of(fn))
        self.fn = fn
        self.__wrapped__ = fn
        self.name = tool_name
        self.description = (description if description is not None else doc.description).strip()
        self.returns_doc = doc.returns
        self.approval_mode: ApprovalMode = approval_mode
        self.timeout = float(timeout) if timeout is not None else None
        self.is_async = is_async(fn)
        self._schema: FunctionSchema | JsonArgumentsSchema = build_function_schema(
            fn, tool_name, doc
        )

    @classmethod
    def from_schema(
        cls,
        name: str,
        parameters: Mapping[str, Any],
        fn: Callable[..., Any],
        *,
        description: str = "",
        returns: Mapping[str, Any] | None = None,
        return_annotation: Any = inspect.Parameter.empty,
        approval_mode: ApprovalMode = "never_require",
        timeout: float | None = None,
    ) -> Tool:
        """A tool known by a name and a JSON schema of its arguments (an MCP tool, say).

        Arguments are validated against `parameters` itself; the model sees a Python signature
        rendered from it (and from `return_annotation`, the Python type of the result, or else
        `returns`, its JSON schema, if given). An argument whose name is no Python name
        (``from``, ``user-id``) is listed in `arguments_note`, passed as ``**{"from": ...}``.
        `fn`, sync or async, is called with the validated arguments as keyword arguments.

        >>> schema = {"type": "object", "properties": {"text": {"type": "string"}}}
        >>> echo = Tool.from_schema("echo", {**schema, "required": ["text"]}, lambda text: text)
        >>> echo.signature
        'echo(text: str)'
        """
        if not callable(fn):
            raise ToolDefinitionError(f"a tool must wrap a function, got {type(fn).__name__}")
        if not isinstance(name, str) or not name:
            raise ToolDefinitionError(f"a tool needs a name, got {name!r}")
        if not isinstance(parameters, Mapping):
            raise ToolDefinitionError(
                f"the parameters of tool {name!r} must be a JSON schema (a dict), "
                f"got {type(parameters).__name__}"
            )
        check_name(name)
        check_options(name, approval_mode, timeout)
        self = cls.__new__(cls)
        self.fn = fn
        self.__wrapped__ = fn
        self.name = name
        self.returns_doc = ""
        self.approval_mode = approval_mode
        self.timeout = float(timeout) if timeout is not None else None
        self.is_async = is_async(fn)
        self.description = (description or "").strip()
        self._schema = build_json_schema(name, parameters, returns, return_annotation)
        return self

    # -- description ------------------------------------------------------------------
    @property
    def parameters(self) -> dict[str, Any]:
        """JSON schema (an object) of the tool's arguments."""
        return self._schema.json_schema

    @property
    def signature(self) -> str:
        """The typed Python signature shown to the model, e.g. ``f(x: int) -> str``."""
        return self._schema.signature

    @property
    def definitions(self) -> dict[str, str]:
        """TypedDict definitions of the structured types the signature names."""
        return self._schema.definitions

    @property
    def param_names(self) -> tuple[str, ...]:
        return self._schema.param_names

    @property
    def positional_params(self) -> tuple[str, ...]:
        """Parameters the sandbox's plain function accepts positionally, in order."""
        return self._schema.positional_names

    @property
    def arguments_note(self) -> str:
        """What the description adds (`json_schema.arguments_note`); "" when nothing."""
        return arguments_note(self._schema.params, self._schema.return_annotation)

    @property
    def return_annotation(self) -> Any:
        return self._schema.return_annotation

    # -- as the sandbox's plain function shows it (inspect.signature, __doc__, help()) -------
    @property
    def guest_params(self) -> tuple[GuestParam, ...]:
        return self._schema.guest_params

    @property
    def guest_returns(self) -> str:
        return self._schema.guest_returns

    @property
    def guest_doc(self) -> str:
        """The docstring: the description, the parameters' and the result's, and whether a
        call waits for approval."""
        parts = [self.description or f"Call the {self.name} tool."]
        if self.arguments_note:
            parts.append(self.arguments_note)
        args = [
            f"    {p.name}: {' '.join(p.description.split())}"
            for p in self._schema.params
            if p.description
        ]
        if args:
            parts.append("Args:\n" + "\n".join(args))
        if self.returns_doc:
            parts.append(f"Returns:\n    {' '.join(self.returns_doc.split())}")
        if self.approval_mode == "always_require":
            parts.append(
                "Each call waits for a person's approval; if refused it raises ToolDenied."
            )
        return "\n\n".join(parts)

    @property
    def validates_parse(self) -> bool:
        """Whether `validate_parsed` gives JSON's own types, as `validate_json` would."""
        return self._schema.validates_parse

    @property
    def passes_parse_on(self) -> bool:
        """Whether lists and dicts `validate_parsed` reads may reach the tool as they are."""
        return self._schema.passes_parse_on

    # -- calling ----------------------------------------------------------------------
    def validate_json(self, arguments_json: str | bytes) -> dict[str, Any]:
        """Validate JSON-encoded arguments; return the keyword arguments for the function.

        Arguments nested more than `MAX_JSON_DEPTH` levels in an argument are refused, as
        pydantic's own JSON parser refuses them for a tool made from a function."""
        if isinstance(self._schema, JsonArgumentsSchema):
            try:
                arguments = loads_within(arguments_json, limit=MAX_ARGUMENT_DEPTH)
            except TooDeep:
                raise ToolArgumentsError(self._describe([ARGUMENTS_TOO_DEEP])) from None
            except ValueError as exc:
                raise ToolArgumentsError(
                    self._describe([f"arguments are not valid JSON ({exc})"])
                ) from None
            return self._validate_by_json_schema(self._schema, arguments)
        try:
            model = self._schema.model.model_validate_json(arguments_json)
        except pydantic.ValidationError as exc:
            raise ToolArgumentsError(self._describe_errors(exc, arguments_json)) from None
        return {name: getattr(model, name) for name in self._schema.param_names}

    def validate_parsed(self, arguments_json: str | bytes, parsed: Any) -> dict[str, Any]:
        """`validate_json(arguments_json)`, given `parsed`, what ``json.loads`` made of the
        text: read instead of the text where that gives the same result (`tools.from_parse`),
        so that a call's arguments are parsed once."""
        schema = self._schema
        if isinstance(schema, JsonArgumentsSchema):  # json.loads is its parser anyway
            if nests_deeper(arguments_json, parsed, MAX_ARGUMENT_DEPTH):
                raise ToolArgumentsError(self._describe([ARGUMENTS_TOO_DEEP]))
            return self._validate_by_json_schema(schema, parsed)
        try:
            model = model_from_parse(schema.model, schema.validates_parse, arguments_json, parsed)
        except pydantic.ValidationError as exc:  # very many problems: not looked for again
            raise ToolArgumentsError(self._describe_errors(exc, None, parsed)) from None
        if model is None:  # from the text, as before: its messages, if it is invalid
            return self.validate_json(arguments_json)
        return dict(model.__dict__)  # its fields, the parameters, in order (no extras)

    def validate(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Validate arguments given as Python values; return the keyword arguments."""
        arguments = dict(arguments)
        if (found := cycle_in(arguments, "arguments")) is not None:  # Python values may loop
            raise ToolArgumentsError(self._describe([f"they contain themselves ({found})"]))
        if too_deep(arguments, MAX_ARGUMENT_DEPTH):
            raise ToolArgumentsError(self._describe([ARGUMENTS_TOO_DEEP]))
        if isinstance(self._schema, JsonArgumentsSchema):
            return self._validate_by_json_schema(self._schema, arguments)
        try:
            model = self._schema.model.model_validate(arguments)
        except pydantic.ValidationError as exc:
            raise ToolArgumentsError(self._describe_errors(exc, None, arguments)) from None
        return {name: getattr(model, name) for name in self._schema.param_names}

    def _validate_by_json_schema(
        self, schema: JsonArgumentsSchema, arguments: Any
    ) -> dict[str, Any]:
        try:
            return schema.validate(arguments)
        except JsonArgumentsError as exc:
            raise ToolArgumentsError(self._describe(exc.problems)) from None

    def to_json(
        self, result: Any, *, max_bytes: int | None = None, deadline: float | None = None,
        stop: threading.Event | None = None,
    ) -> Any:  # fmt: skip
        """Convert the function's return value to JSON values (see `codeact.tools.results`),
        within `max_bytes`, by `deadline` and until `stop` is set, when given."""
        where = f"the result of {self.name}()"
        return to_json_value(result, where=where, max_bytes=max_bytes, deadline=deadline, stop=stop)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Tool {self.signature}>"

    def _describe_errors(
        self, exc: pydantic.ValidationError, text: str | bytes | None, parsed: Any = None
    ) -> str:
        model = getattr(self._schema, "model", None)
        return self._describe(validation_problems(exc, model, text, parsed))

    def _describe(self, problems: list[str]) -> str:
        expected = ", ".join(self.param_names) or "no arguments"
        return f"invalid arguments for {self.name}(): {'; '.join(problems)}. It takes: {expected}"


@overload
def tool(fn: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    approval_mode: ApprovalMode = "never_require",
    timeout: float | None = None,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    approval_mode: ApprovalMode = "never_require",
    timeout: float | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Describe a sync or async function as a tool; use as `@tool` or `@tool(...)`.

    The JSON schema comes from the signature (annotations, defaults, `Annotated`, `Literal`,
    `Optional`, pydantic models, TypedDicts, dataclasses) and the docstring's parameter
    descriptions; the return annotation is shown to the model. A function that cannot be
    described raises `ToolDefinitionError` here, not when the model calls it.

    Args:
        name: The tool's name (default: the function's name).
        description: Overrides the docstring's description.
        approval_mode: ``"always_require"`` pauses every call until an approval handler allows it.
        timeout: Seconds a single call may take (default: the execution's `Limits.tool_timeout`).
    """

    def decorate(f: Callable[..., Any]) -> Tool:
        return Tool(
            f, name=name, description=description, approval_mode=approval_mode, timeout=timeout
        )

    if fn is not None:
        return decorate(fn)
    return decorate


def as_tool(obj: Tool | Callable[..., Any]) -> Tool:
    """Return `obj` if it is a Tool, else describe the plain function as one."""
    if isinstance(obj, Tool):
        return obj
    if callable(obj):
        return Tool(obj)
    raise ToolDefinitionError(f"expected a @tool function or a callable, got {type(obj).__name__}")
