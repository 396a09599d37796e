"""Tools: schemas and signatures from functions, validation, result conversion, name rules."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal, Optional

import pytest
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from codeact import CodeAct, ToolDefinitionError, ToolSet, tool
from codeact.errors import ConfigurationError
from codeact.tools import ResultConversionError, ToolArgumentsError, to_json_value
from codeact.tools.docstrings import parse_docstring


class Order(BaseModel):
    product: str
    qty: int = Field(description="units ordered")


class Address(TypedDict):
    street: str
    city: str


@dataclasses.dataclass
class Box:
    width: float
    height: float


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


def test_schema_and_signature_from_a_plain_function() -> None:
    @tool
    def get_weather(city: str, units: Literal["c", "f"] = "c") -> dict[str, float | str]:
        """Return the current weather for a city.

        Args:
            city: Name of the city.
            units: Celsius or Fahrenheit.
        """
        return {}

    assert get_weather.name == "get_weather"
    assert get_weather.description == "Return the current weather for a city."
    assert get_weather.signature == (
        "get_weather(city: str, units: Literal['c', 'f'] = 'c') -> dict[str, float | str]"
    )
    assert get_weather.parameters == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "Name of the city."},
            "units": {
                "type": "string",
                "enum": ["c", "f"],
                "default": "c",
                "description": "Celsius or Fahrenheit.",
            },
        },
        "required": ["city"],
        "additionalProperties": False,
    }


def test_structured_types_are_shown_as_typed_dicts() -> None:
    @tool
    def place(order: Order, to: Address, box: Optional[Box] = None) -> list[Order]:  # noqa: UP045
        """Place an order."""
        return []

    assert place.signature == (
        "place(order: Order, to: Address, box: Box | None = None) -> list[Order]"
    )
    assert place.definitions["Order"] == (
        "class Order(TypedDict):\n    product: str\n    qty: int  # units ordered"
    )
    assert place.definitions["Address"].startswith("class Address(TypedDict):")
    assert "width: float" in place.definitions["Box"]


def test_annotated_enum_and_datetime_are_described() -> None:
    @tool
    def schedule(
        when: datetime.datetime,
        color: Color,
        n: Annotated[int, Field(ge=1, description="how many")],
    ) -> decimal.Decimal:
        """Schedule."""
        return decimal.Decimal(1)

    assert schedule.signature == (
        "schedule(when: str, color: Literal['red', 'blue'], n: int) -> float"
    )
    assert schedule.parameters["properties"]["n"]["description"] == "how many"
    assert schedule.validate({"when": "2026-01-02T03:04:05", "color": "red", "n": 2}) == {
        "when": datetime.datetime(2026, 1, 2, 3, 4, 5),
        "color": Color.RED,
        "n": 2,
    }


def test_decorator_with_arguments_and_async_functions() -> None:
    @tool(name="lookup", description="Find a thing.", approval_mode="always_require", timeout=5)
    async def find(key: str) -> str:
        return key

    assert (find.name, find.description, find.approval_mode, find.timeout) == (
        "lookup",
        "Find a thing.",
        "always_require",
        5.0,
    )
    assert find.is_async


def test_validation_errors_name_the_argument() -> None:
    @tool
    def add(a: int, b: int = 1) -> int:
        """Add."""
        return a + b

    assert add.validate_json('{"a": "3"}') == {"a": 3, "b": 1}  # lax, as models need
    with pytest.raises(ToolArgumentsError, match="argument 'a': Input should be a valid integer"):
        add.validate_json('{"a": "three"}')
    with pytest.raises(ToolArgumentsError, match="missing required argument 'a'"):
        add.validate_json("{}")
    with pytest.raises(ToolArgumentsError, match=r"unexpected argument 'c'.*It takes: a, b"):
        add.validate_json('{"a": 1, "c": 2}')


@pytest.mark.parametrize(
    ("define", "message"),
    [
        ("def f(x): pass", "has no type annotation"),
        ("def f(*args: int): pass", "takes \\*args: .*list each parameter it accepts in place of"),
        ("def f(**kw: int): pass", "takes \\*\\*kw: .*in place of \\*\\*kw \\(for example"),
        ("def f(x: int, /): pass", "positional-only"),
        ("def print(x: int): pass", "already taken inside the sandbox"),
        ("def call_tool(x: int): pass", "already taken inside the sandbox"),
        ("def f(x: 'Undefined'): pass", "cannot resolve the type annotations"),
        ("def f(x: object): pass", ""),
    ],
)
def test_functions_that_cannot_be_described_fail_at_decoration(define: str, message: str) -> None:
    namespace: dict[str, object] = {}
    exec(define, namespace)
    fn = next(v for k, v in namespace.items() if k != "__builtins__")
    assert callable(fn)
    if define.endswith("object): pass"):
        tool(fn)  # `object` is a valid (if vague) annotation
        return
    with pytest.raises(ToolDefinitionError, match=message):
        tool(fn)


def test_slips_in_defining_a_tool_say_what_to_write() -> None:
    """Each of these failed with a message about something else (or not at all, until the
    model called the tool)."""

    async def numbers(n: int) -> AsyncIterator[int]:
        for i in range(n):
            yield i

    with pytest.raises(ToolDefinitionError, match=r"async generator.*return a list"):
        tool(numbers)
    with pytest.raises(ToolDefinitionError, match=r"got the string 'price'.*@tool\(name=\.\.\.\)"):
        tool("price")  # type: ignore[call-overload]
    with pytest.raises(ToolDefinitionError, match=r"a lambda has no name.*@tool\(name=\.\.\.\)"):
        tool(lambda x: x)

    def f(x: int) -> int:
        return x

    with pytest.raises(ToolDefinitionError, match=r"'class' is a Python keyword.*'class_'"):
        tool(name="class")(f)
    assert tool(name="match")(f).name == "match"  # a soft keyword is a name a program calls


def test_a_dict_of_tools_says_to_pass_a_list() -> None:
    from codeact import CodeAct, ConfigurationError

    def price(item: str) -> float:
        """Price."""
        return 1.0

    with pytest.raises(ConfigurationError, match=r"got a dict; write tools=\[price\]"):
        CodeAct(tools={"price": price})  # type: ignore[dict-item]


@pytest.mark.parametrize("name", ["__builtins__", "__name__", "__file__", "__spec__"])
def test_pythons_own_names_are_refused(name: str) -> None:
    """A tool named ``__builtins__`` replaced every program's builtins (it is no attribute
    of the builtins module, so the check of taken names let it through)."""

    def f(x: int) -> int:
        return x

    with pytest.raises(ToolDefinitionError, match="starts and ends with '__'"):
        tool(name=name)(f)


class Opaque:
    pass


def test_unsupported_parameter_type_fails_at_decoration() -> None:
    def f(x: Opaque) -> None:
        pass

    with pytest.raises(ToolDefinitionError, match="cannot be described as JSON"):
        tool(f)


def test_bad_tool_names_are_rejected() -> None:
    def f(x: int) -> int:
        return x

    with pytest.raises(ToolDefinitionError, match="not a Python identifier"):
        tool(name="my-tool")(f)
    with pytest.raises(ToolDefinitionError, match="approval_mode"):
        tool(approval_mode="sometimes")(f)  # type: ignore[call-overload]  # wrong on purpose


def test_toolset_rejects_duplicate_names_and_explains_missing_ones() -> None:
    def f(x: int) -> int:
        return x

    tools = ToolSet([f])
    with pytest.raises(ConfigurationError, match="two tools are named 'f'"):
        tools.add(tool(f))
    with pytest.raises(ConfigurationError, match="no tool named 'g'; the tools are: f"):
        tools.remove("g")


def test_result_conversion_rules() -> None:
    value = {
        "model": Order(product="widget", qty=2),
        "box": Box(1.5, 2.0),
        "when": datetime.date(2026, 11, 24),
        "price": decimal.Decimal("9.99"),
        "id": uuid.UUID(int=1),
        "color": Color.BLUE,
        "tags": {"b", "a"},
        "pair": (1, 2),
        "raw": b"hi",
        1: "int key",
    }
    assert to_json_value(value) == {
        "model": {"product": "widget", "qty": 2},
        "box": {"width": 1.5, "height": 2.0},
        "when": "2026-11-24",
        "price": 9.99,
        "id": "00000000-0000-0000-0000-000000000001",
        "color": "blue",
        "tags": ["a", "b"],
        "pair": [1, 2],
        "raw": "aGk=",
        "1": "int key",
    }


class _Number(enum.Enum):
    ONE = 1


class _Pair(enum.Enum):
    P = (1, 2)


def test_an_enum_key_becomes_its_value_as_an_enum_item_does() -> None:
    # A str-valued Enum key was refused as "a dict key of type str; JSON keys must be strings".
    assert to_json_value({Color.RED: 1, _Number.ONE: 2}) == {"red": 1, "1": 2}
    with pytest.raises(ResultConversionError, match="a dict key of type tuple"):
        to_json_value({_Pair.P: 1})


def test_result_conversion_never_silently_stringifies() -> None:
    class Opaque:
        pass

    with pytest.raises(ResultConversionError, match=r"result\['items'\]\[1\] is an object"):
        to_json_value({"items": [1, Opaque()]})


def test_docstring_styles() -> None:
    google = parse_docstring(
        "Sum.\n\nArgs:\n    a (int): first\n        continued\n    b: second\n"
    )
    assert google.params == {"a": "first continued", "b": "second"}
    sphinx = parse_docstring("Sum.\n\n:param a: first\n:param b: second\n:returns: total\n")
    assert (sphinx.description, sphinx.params, sphinx.returns) == (
        "Sum.",
        {"a": "first", "b": "second"},
        "total",
    )
    numpy = parse_docstring("Sum.\n\nParameters\n----------\na : int\n    first\n")
    assert numpy.params == {"a": "first"}


@pytest.mark.parametrize("given", ["one tool", "a function", "a string", "None"])
def test_tools_that_are_not_a_list_say_how_to_write_them(given: str) -> None:
    @tool
    def get_weather(city: str) -> str:
        """The weather."""
        return city

    value: Any = {"one tool": get_weather, "a function": len, "a string": "x", "None": None}[given]
    # was: TypeError: ToolSet.add() argument after * must be an iterable, not Tool
    with pytest.raises(ConfigurationError, match=r"tools must be a list of tools, got \w+; write"):
        CodeAct(tools=value)
    if given == "one tool":
        with pytest.raises(ConfigurationError, match=r"write tools=\[get_weather\]"):
            CodeAct(tools=value)


@pytest.mark.parametrize("name", ["ｐｒｉｎｔ", "ｆｅｔｃｈ", "ﬁle", "x²"])
def test_names_python_reads_as_other_names_are_refused(name: str) -> None:
    """Python reads identifiers NFKC-normalized: a tool named 'ｐｒｉｎｔ' was accepted, and a
    program calling it ran the builtin print (and 'ｆｅｔｃｈ' ran the tool 'fetch')."""

    def f(x: int) -> int:
        return x

    with pytest.raises(ToolDefinitionError, match="is read by Python as"):
        tool(name=name)(f)


def test_adapters_name_a_tool_as_python_reads_it() -> None:
    from codeact.errors import ConfigurationError
    from codeact.integrations._adapter import python_name, unique_names

    assert python_name("ｐｒｉｎｔ") == "print_"
    assert python_name("ｆｅｔｃｈ") == "fetch"
    with pytest.raises(ConfigurationError):
        unique_names(["fetch", "ｆｅｔｃｈ"], framework="MCP", fix="x")


@pytest.mark.parametrize("name", ["PythonFinalizationError", "ExceptionGroup"])
def test_builtins_of_the_sandboxs_newer_python_are_taken(name: str) -> None:
    """The wasm guest runs CPython 3.14: a tool named after one of its builtins that the
    host's Python lacks was accepted, and hid the builtin in programs."""
    from codeact.integrations._adapter import python_name

    def f(x: int) -> int:
        return x

    with pytest.raises(ToolDefinitionError, match="already taken inside the sandbox"):
        tool(name=name)(f)
    assert python_name(name) == name + "_"
