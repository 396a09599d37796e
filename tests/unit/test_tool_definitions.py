"""What the model is shown for awkward tools: argument names that are no Python names, a
schema tool's Python return type, and `@tool` on methods, partials and callable objects."""

from __future__ import annotations

import functools
from typing import TypedDict

import pytest

from codeact import CodeAct, Tool, ToolDefinitionError, tool

SEND_SCHEMA = {
    "type": "object",
    "properties": {
        "from": {"type": "string"},
        "to": {"type": "string"},
        "user-id": {"type": "integer"},
    },
    "required": ["from", "to"],
}


def _line(codeact: CodeAct, name: str) -> str:
    lines = codeact.execute_code_tool().description.splitlines()
    return next(line for line in lines if line.startswith(f"- {name}("))


def test_arguments_named_as_keywords_are_shown_with_how_to_pass_them() -> None:
    send = Tool.from_schema("send", SEND_SCHEMA, lambda **kw: kw, description="Send a message.")
    with CodeAct(tools=[send]) as codeact:
        line = _line(codeact, "send")
        assert "'from' (str, required)" in line and "'user-id' (int | None, default None)" in line
        assert "**{'from': ..., 'user-id': ...}" in line
        assert send.description == "Send a message."  # the description itself is left as is
        ok = codeact.execute_sync('send(to="b", **{"from": "a", "user-id": 3})')
        assert ok.ok and ok.value == {"from": "a", "to": "b", "user-id": 3}
        missing = codeact.execute_sync('send(to="b")')
        assert missing.error is not None and missing.error.type == "ToolError"
        assert "missing required argument 'from' (pass it as **{'from': ...})" in (
            missing.error.message
        )
        doc = codeact.execute_sync("send.__doc__")
        assert "which are not Python names" in str(doc.value)


def test_an_argument_named_kwargs_keeps_its_name_and_the_catch_all_takes_another() -> None:
    """Before, ``convert(kwargs: str, to: str, **kwargs: Any)`` for the model, and in the
    sandbox a signature that lost ``kwargs: str`` and put ``**kwargs`` first."""
    schema = {
        "type": "object",
        "properties": {name: {"type": "string"} for name in ("from", "kwargs", "more", "to")},
        "required": ["from", "kwargs", "more", "to"],
    }
    convert = Tool.from_schema("convert", schema, lambda **kw: kw, description="Convert.")
    assert convert.signature.startswith("convert(kwargs: str, more: str, to: str, **extra: Any)")
    with CodeAct(tools=[convert]) as codeact:
        line = _line(codeact, "convert")
        assert line.startswith("- convert(kwargs: str, more: str, to: str, **extra: Any)")
        shown = codeact.execute_sync("import inspect\nstr(inspect.signature(convert))")
        assert shown.value == "(kwargs: str, more: str, to: str, **extra: Any)", shown.error
        ok = codeact.execute_sync('convert("a", "b", to="c", **{"from": "d"})')
        assert ok.ok and ok.value == {"kwargs": "a", "more": "b", "to": "c", "from": "d"}


class Order(TypedDict):
    id: int
    total: float


def test_a_schema_tool_shows_the_python_return_type_it_is_given() -> None:
    params = {"type": "object", "properties": {"user_id": {"type": "integer"}}}
    orders = Tool.from_schema("orders", params, lambda **kw: [], return_annotation=list[Order])
    assert orders.signature == "orders(user_id: int | None = None) -> list[Order]"
    assert orders.definitions["Order"].splitlines()[1:] == ["    id: int", "    total: float"]
    assert orders.return_annotation == list[Order]


def test_tool_on_a_method_in_a_class_body_says_to_make_it_from_the_object() -> None:
    with pytest.raises(ToolDefinitionError) as info:

        class DB:
            @tool
            def get(self, key: str) -> int:
                """Get a row."""
                return 1

    assert "tool(obj.get)" in str(info.value) and "self: str" not in str(info.value)


def scale(x: float, factor: float) -> float:
    """Scale x."""
    return x * factor


class Adder:
    """Add two numbers."""

    def __call__(self, a: int, b: int) -> int:
        return a + b


def test_a_partial_and_a_callable_object_are_tools() -> None:
    double = tool(name="double")(functools.partial(scale, factor=2.0))
    adder = tool(name="adder")(Adder())
    assert double.signature == "double(x: float) -> float"  # the bound argument is not shown
    assert double.description == "Scale x."
    assert adder.signature == "adder(a: int, b: int) -> int"
    assert adder.description == "Add two numbers."
    with CodeAct(tools=[double, adder]) as codeact:
        assert codeact.execute_sync("double(x=3), adder(1, 2)").value == [6.0, 3]
        passed = codeact.execute_sync("double(x=3, factor=5)")
        assert passed.error is not None and "unexpected argument 'factor'" in passed.error.message


@pytest.mark.parametrize("name", ["", 3])
def test_an_empty_or_non_string_name_is_refused(name: object) -> None:
    def lookup(key: str) -> str:
        return key

    with pytest.raises(ToolDefinitionError, match="name must be a non-empty string"):
        tool(name=name)(lookup)  # type: ignore[call-overload]
