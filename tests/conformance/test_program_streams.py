"""What a program finds when it looks at its surroundings as a script would: sys.stdout and
sys.stderr as text streams (with a binary `buffer`), its tools' signatures and docstrings,
and help()."""

from __future__ import annotations

from collections.abc import Callable

from codeact import CodeAct, Limits, Tool, tool


async def test_stdout_and_stderr_have_a_text_stream_s_attributes(
    make_codeact: Callable[..., CodeAct],
) -> None:
    # Programs that set up their output (reconfigure, line_buffering) or check it (isatty,
    # fileno) failed with AttributeError: 'Stream' object has no attribute ...
    code = """
import io, sys
seen = {}
for s in (sys.stdout, sys.stderr):
    try:
        s.fileno()
    except io.UnsupportedOperation:
        no_fd = True
    s.reconfigure(encoding="utf-8", errors="replace", line_buffering=True)
    s.flush()
    seen[s.name] = [s.encoding, s.errors, s.line_buffering, s.isatty(), s.writable(), no_fd,
                    s.buffer.writable(), s.buffer.isatty(), s.mode]
sys.stdout.reconfigure(line_buffering=False, write_through=True)
seen["after"] = [sys.stdout.line_buffering, sys.stdout.write_through, sys.stdout.errors]
try:
    sys.stdout.reconfigure(encoding="no-such-codec")
except LookupError:
    seen["unknown codec"] = "LookupError"
seen
"""
    result = await make_codeact().execute(code)
    assert result.ok, result.error
    row = ["utf-8", "replace", True, False, True, True, True, False, "w"]
    assert result.value == {
        "<stdout>": row,
        "<stderr>": row,
        "after": [False, True, "replace"],
        "unknown codec": "LookupError",
    }


async def test_bytes_written_to_the_buffer_are_output_as_utf8_text(
    make_codeact: Callable[..., CodeAct],
) -> None:
    code = """
import sys
print("text first")
n = sys.stdout.buffer.write("café\\n".encode())
sys.stdout.buffer.write(b"split \\xc3")  # a character cut between two writes
sys.stdout.buffer.write(b"\\xa9 whole\\n")
sys.stdout.buffer.flush()
sys.stdout.write("then text\\n")
sys.stderr.buffer.write(b"bad \\xff byte\\n")
sys.stdout.buffer.write(bytearray(b"array ") + memoryview(b"view\\n"))
try:
    sys.stdout.buffer.write("str")
except TypeError as e:
    print("TypeError:", e)
n
"""
    result = await make_codeact().execute(code)
    assert result.ok, result.error
    assert result.value == len("café\n".encode())
    assert result.stdout == (
        "text first\ncafé\nsplit é whole\nthen text\narray view\n"
        "TypeError: a bytes-like object is required, not 'str'\n"
    )
    assert result.stderr == "bad \ufffd byte\n"


async def test_a_character_cut_at_the_end_of_the_program_is_not_lost(
    make_codeact: Callable[..., CodeAct],
) -> None:
    result = await make_codeact().execute("import sys\nsys.stdout.buffer.write(b'end \\xc3')")
    assert result.ok, result.error
    assert result.stdout == "end \ufffd"


async def test_the_buffer_s_output_is_capped_with_the_rest(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact(limits=Limits(wall_time=20, output_bytes=100))
    result = await codeact.execute(
        "import sys\nprint('a' * 60)\nsys.stdout.buffer.write(b'b' * 90)"
    )
    assert result.ok, result.error
    assert result.stdout == "a" * 60 + "\n" + "b" * 39
    assert result.output_truncated == 51


@tool
def greet(name: str = "world", *, shout: bool = False) -> str:
    """Say hello to someone.

    Args:
        name: Who to greet.
        shout: In capitals.
    """
    return f"hello {name}"


@tool
def lookup(key: str, limit: int = 10, tags: list[str] | None = None) -> dict[str, int]:
    """Look a key up."""
    return {key: limit}


async def test_a_tool_function_has_its_signature_and_docstring(
    make_codeact: Callable[..., CodeAct],
) -> None:
    # inspect.signature(greet) was (*args, **kwargs), greet.__doc__ None.
    code = """
import inspect
sig = inspect.signature(greet)
[str(sig), str(inspect.signature(lookup)), greet.__doc__, lookup.__doc__,
 sig.parameters["name"].default, sig.parameters["shout"].kind.name,
 inspect.signature(lookup).parameters["tags"].default, greet.__name__]
"""
    result = await make_codeact(tools=[greet, lookup]).execute(code)
    assert result.ok, result.error
    assert result.value == [
        "(name: str = 'world', *, shout: bool = False) -> str",
        "(key: str, limit: int = 10, tags: list[str] | None = None) -> dict[str, int]",
        "Say hello to someone.\n\nArgs:\n    name: Who to greet.\n    shout: In capitals.",
        "Look a key up.",
        "world",
        "KEYWORD_ONLY",
        None,
        "greet",
    ]


async def test_a_tool_known_by_a_json_schema_has_the_signature_the_model_sees(
    make_codeact: Callable[..., CodeAct],
) -> None:
    schema = {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "What to look for."},
            "first-name": {"type": "string"},  # no Python name: passed with **{...}
            "limit": {"type": "integer", "default": 5},
        },
        "required": ["query"],
    }
    search = Tool.from_schema(
        "search", schema, lambda **kw: kw, description="Search.", returns={"type": "string"}
    )
    code = "import inspect\n[str(inspect.signature(search)), search.__doc__]"
    result = await make_codeact(tools=[search]).execute(code)
    assert result.ok, result.error
    assert result.value == [
        "(query: str, limit: int = 5, **kwargs: Any) -> str",
        "Search.\n\nAlso takes 'first-name' (str | None, default None), which is not a Python "
        "name: pass it as **{'first-name': ...}.\n\nArgs:\n    query: What to look for.",
    ]
    assert search.signature == "search(query: str, limit: int = 5, **kwargs: Any) -> str"


async def test_help_on_a_tool_prints_its_signature_and_docstring(
    make_codeact: Callable[..., CodeAct],
) -> None:
    # help(greet) failed: ModuleNotFoundError: pydoc on wasm, NameError: help on the jail.
    result = await make_codeact(tools=[greet]).execute("help(greet)\nprint('after')")
    assert result.ok, result.error
    assert "greet(name: str = 'world', *, shout: bool = False) -> str" in result.stdout
    assert "Say hello to someone." in result.stdout
    assert "Who to greet." in result.stdout
    assert result.stdout.endswith("after\n")


async def test_help_on_other_objects_prints_something_useful(
    make_codeact: Callable[..., CodeAct],
) -> None:
    code = """
def area(width: float, height: float = 1.0) -> float:
    '''The area of a rectangle.'''
    return width * height
help(area)
help(len)
help("json")
help()
print("done")
"""
    result = await make_codeact().execute(code)
    assert result.ok, result.error
    out = result.stdout
    assert "area(width: float, height: float = 1.0) -> float" in out
    assert "The area of a rectangle." in out
    assert "Return the number of items in a container." in out
    assert "JSON" in out  # json's own docstring
    assert "the sandbox has no interactive help" in out  # help() waited for input
    assert out.endswith("done\n")
