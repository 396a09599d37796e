"""The value of a program is its last statement's when that is an expression, whatever the
program's layout: the runner compiles the last expression apart from the rest by splitting
the text where it can (faster than a syntax tree) and must read every program as Python does.

Each program's expected value and error line are computed here on the host by the syntax
tree, the way the runner did before the split."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from codeact import CodeAct, Limits, tool

PROGRAMS = {
    "one_line": "1 + 1",
    "after_a_statement": "x = 1\nx",
    "two_expressions": "1\n2",
    "continued_by_backslash": "x = 1\nx + \\\n1",
    "continued_by_backslash_at_column_0": "x = 2 + \\\n3",
    "value_in_a_string_across_lines": 'x = """\nabc\n"""\nx',
    "assignment_of_a_string_across_lines": 's = """\n1\n"""',
    "string_lines_that_look_like_expressions": 's = """\n1\n2\n3\n"""',
    "string_closed_by_a_line_that_reads_as_an_expression": 's = """\n"1"""',
    "value_after_such_a_string": 's = """\n"1"""\nlen(s)',
    "call_across_lines": "f = lambda *a: len(a)\nf(\n1,\n2)\n",
    "bracket_closed_at_column_0": "f = lambda *a: len(a)\nf(\n    1,\n)",
    "list_with_items_at_column_0": "x = [\n1,\n2]\nx",
    "assignment_ending_in_items_at_column_0": "x = [\n1,\n2]",
    "after_a_block": "if True:\n    y = 2\ny",
    "ending_in_a_block": "y = 0\nfor i in range(3):\n    y += i",
    "ending_in_a_block_with_an_expression": "y = 0\nfor i in range(3):\n    y\n",
    "trailing_blank_lines_and_comment": "def f():\n    return 5\n\nf()\n\n# done\n",
    "semicolons": "x = 1; x",
    "decorated_function_last": "def d(f):\n    return f\n@d\ndef g():\n    return 1",
    "walrus": "(z := 7)\n",
    "else_at_column_0": "if False:\n    pass\nelse:\n    7",
    "form_feed": "x = 4\n\x0cx",
    "line_separator_in_a_string": "s = 'a\u2028b'\nlen(s)",
    "carriage_returns": "x = 3\r\nx\r\n",
    "comment_lines_only_after": "x = 9\nx\n#\n# c",
    "parenthesized_expression_starting_at_0": "(1 +\n2)",
    "dict_display": "{\n'a': 1,\n}",
    "future_import_then_expression": "from __future__ import annotations\nx = 3\nx * 2",
    "await_last": "import asyncio\nawait asyncio.sleep(0, result=5)",
    "error_in_the_last_expression": "x = 1\n\n1 / 0",
    "error_in_the_body": "x = 1\n1 / 0\nx",
    "error_in_a_continued_last_expression": "x = 0\nprint(\n1 / x)",
}


def _reference(code: str) -> tuple[str, Any]:
    """("value", v) or ("error", (type name, line)) as the syntax tree reads the program."""
    tree = ast.parse(code)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body[-1].value)
        tree.body.pop()
    if "await" in code:
        return "value", 5  # the host cannot run top-level await without a loop; known value
    namespace: dict[str, Any] = {}
    try:
        exec(compile(tree, "<code>", "exec"), namespace)
        value = eval(compile(last, "<code>", "eval"), namespace) if last else None
    except Exception as exc:
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        return "error", (type(exc).__name__, tb.tb_lineno if tb else None)
    return "value", value


@pytest.mark.parametrize("name", list(PROGRAMS))
async def test_the_last_expression_is_the_value_however_the_program_is_laid_out(
    make_codeact: Callable[..., CodeAct], name: str
) -> None:
    code = PROGRAMS[name]
    kind, expected = _reference(code)
    result = await make_codeact().execute(code)
    if kind == "value":
        assert result.ok, result.error
        assert result.value == expected
    else:
        assert not result.ok
        assert result.error is not None
        assert (result.error.type, result.error.lineno) == expected


async def test_a_syntax_error_is_reported_at_its_line_whatever_ends_the_program(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact()
    for code, line in [("x = (\n1\nx", 1), ("x = 1\ndef\nx", 2), ("1\n2 +\n", 2)]:
        result = await codeact.execute(code)
        assert result.error is not None
        assert (result.error.type, result.error.lineno) == ("SyntaxError", line), code


async def test_syntax_warnings_come_out_once_in_the_order_of_the_lines(
    make_codeact: Callable[..., CodeAct],
) -> None:
    # Compiling the last expression before the rest must not move its warnings ahead of the
    # others', nor print a warning for a program that does not compile (as the tree did).
    codeact = make_codeact()
    result = await codeact.execute("x = 1 is 1\ny = 2 is 2\n3 is 3")
    assert result.ok, result.error
    assert result.value is True
    lines = [line.split(":")[1] for line in result.stderr.splitlines() if "SyntaxWarning" in line]
    assert lines == ["1", "2", "3"], result.stderr
    result = await codeact.execute("def f(:\n    pass\n1 is 1")
    assert result.error is not None
    assert (result.error.type, result.error.lineno) == ("SyntaxError", 1)
    assert "SyntaxWarning" not in result.stderr, result.stderr


async def test_a_future_import_applies_to_the_last_expression_too(
    make_codeact: Callable[..., CodeAct],
) -> None:
    # barry_as_FLUFL changes how the rest of the file parses where the parser honours it
    # (3.12+: `!=` is then a syntax error): the guest's own syntax tree says what to expect.
    code = "from __future__ import barry_as_FLUFL\n1 != 2"
    codeact = make_codeact()
    probe = f"import ast\ntry:\n    r = ast.parse({code!r})\nexcept SyntaxError:\n    r = 0\n"
    probe += "r and 1"
    reads = await codeact.execute(probe)
    assert reads.ok, reads.error
    result = await codeact.execute(code)
    if reads.value == 1:
        assert result.ok, result.error
        assert result.value is True
    else:
        assert result.error is not None
        assert (result.error.type, result.error.lineno) == ("SyntaxError", 2)


async def test_a_value_nested_deep_comes_back_the_same_on_every_backend(
    make_codeact: Callable[..., CodeAct],
) -> None:
    # Under WebAssembly a value about 1,000 deep ran the C encoders out of the guest's stack
    # and the whole run failed, where the jail showed "(repr failed)": every backend now
    # stops at the same depths, and a container inside itself is still shown as repr shows it.
    codeact = make_codeact()
    nest = "a = 0\nfor i in range({n}):\n    a = {shape}\na"
    result = await codeact.execute(nest.format(n=150, shape="{'k': a}"))
    assert result.ok, result.error
    assert result.value is not None and result.value_repr is None
    result = await codeact.execute(nest.format(n=300, shape="[a]"))
    assert result.ok, result.error
    assert result.value_repr == "[" * 300 + "0" + "]" * 300
    for shape in ("[a]", "{'k': a}", "(a,)"):
        result = await codeact.execute("print('kept')\n" + nest.format(n=50_000, shape=shape))
        assert result.ok, (shape, result.error)
        assert result.stdout == "kept\n"
        assert result.value_repr is not None
        assert result.value_repr.endswith("object nested more than 400 levels deep>")
    result = await codeact.execute("a = [1]\na.append(a)\na")
    assert (result.ok, result.value_repr) == (True, "[1, [...]]")
    odd = "class L(list):\n    def __iter__(self):\n        raise ValueError('no')\nL([1])"
    result = await codeact.execute(odd)  # measuring it fails: its repr still comes back
    assert (result.ok, result.value_repr) == (True, "[1]")


async def test_a_value_cut_by_the_output_limit_says_so(
    make_codeact: Callable[..., CodeAct],
) -> None:
    # A value larger than the output limit came back as a cut string while nothing in the
    # result said it was cut: the run looked like a success with a different value.
    codeact = make_codeact(limits=Limits(wall_time=20, output_bytes=1001))
    result = await codeact.execute("print('hi')\nlist(range(1000))")
    assert result.ok, result.error
    assert result.value is None and result.value_repr is not None
    shown, _, marker = result.value_repr.partition("... [")
    assert shown == repr(list(range(1000)))[:1001]
    assert result.value_truncated == len(repr(list(range(1000)))) - 1001
    assert marker == f"{result.value_truncated} more bytes cut]"
    assert result.output_truncated == result.value_truncated  # nothing printed was cut
    assert result.stdout == "hi\n"
    data = result.to_dict()
    assert data["value_truncated_bytes"] == result.value_truncated
    assert "[value truncated: " in result.to_model_text()
    # The limit is in bytes: 'é' is two of them, and a character is never cut in half.
    result = await codeact.execute("'\\u00e9' * 1000")
    assert result.value_repr == "'" + "\u00e9" * 500 + "... [1001 more bytes cut]"
    assert (result.value_truncated, result.output_truncated) == (1001, 1001)
    result = await codeact.execute("'\\u00e9' * 499")  # 1000 bytes with its quotes: whole
    assert (result.value_repr, result.value_truncated) == (repr("\u00e9" * 499), 0)
    result = await codeact.execute("list(range(10))")
    assert (result.value, result.value_truncated) == (list(range(10)), 0)


@tool
async def fetch(i: int) -> int:
    """Item i, after a pause."""
    await asyncio.sleep(0.01)
    return i * 10


async def test_a_program_that_awaits_runs_whole_in_one_event_loop(
    make_codeact: Callable[..., CodeAct],
) -> None:
    """With its only `await` on the last line, the lines before it ran without an event loop
    (`create_task`: "no running event loop"); a last line after an `await` ran outside the
    loop that the lines before it had used. In the asyncio REPL and Jupyter both work."""
    codeact = make_codeact(tools=[fetch])
    gather_last = (
        "import asyncio\n"
        "tasks = [asyncio.create_task(call_tool_async('fetch', i=i)) for i in range(3)]\n"
        "await asyncio.gather(*tasks)"
    )
    result = await codeact.execute(gather_last)
    assert result.ok and result.value == [0, 10, 20], result.error
    loop_after = "import asyncio\nawait asyncio.sleep(0)\nasyncio.get_running_loop() is not None"
    result = await codeact.execute(loop_after)
    assert result.ok and result.value is True, result.error
    # a program that does not await at top level still runs its own loop
    own_loop = "import asyncio\nasync def main():\n    return 3\nasyncio.run(main())"
    result = await codeact.execute(own_loop)
    assert result.ok and result.value == 3, result.error
