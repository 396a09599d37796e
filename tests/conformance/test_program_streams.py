"""What a program finds when it looks at its surroundings as a script would: sys.stdout and
sys.stderr as text streams (with a binary `buffer`), its tools' signatures and docstrings,
and help()."""

from __future__ import annotations

from collections.abc import Callable

from codeact import CodeAct, Limits


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
