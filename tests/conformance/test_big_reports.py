"""A program's own failure or value stays the program's when it is huge: an exception with a
message of megabytes, a line of megabytes in a traceback, an integer of thousands of digits.
The report carries what fits, says what was cut, and is never lost as a SandboxError."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from codeact import CodeAct, Limits

CUT = "more characters cut]"
#: Programs of megabytes, past the default Limits.code_bytes (1 MiB).
BIG_PROGRAMS = Limits(wall_time=20, code_bytes=8 << 20)


@pytest.mark.parametrize("mib", [1.1, 20])
async def test_a_huge_exception_message_is_cut_and_still_the_program_s_error(
    make_codeact: Callable[..., CodeAct], mib: float
) -> None:
    # Over 2 * output_bytes + 64 KiB, the report was refused whole: "the sandbox's report was
    # too large" (wasm), "the sandbox broke the channel protocol" (jail).
    code = f"print('working')\nraise ValueError('x' * int({mib} * 2**20))"
    result = await make_codeact().execute(code)
    error = result.error
    assert error is not None
    assert (error.type, error.lineno, result.stdout) == ("ValueError", 2, "working\n")
    assert error.message.startswith("xxxx") and error.message.endswith(CUT)
    assert len(error.message) < 100_000
    assert 'File "<code>", line 2, in <module>' in error.traceback
    assert error.traceback.rstrip().endswith(CUT) and len(error.traceback) < 200_000


async def test_an_error_that_json_would_inflate_fits_a_small_output_limit(
    make_codeact: Callable[..., CodeAct],
) -> None:
    # Control characters and astral ones take 6 and 12 characters each in JSON.
    codeact = make_codeact(limits=Limits(wall_time=20, output_bytes=1000))
    code = "e = KeyError('\\x01\\U0001f600' * 200_000)\ne.add_note('\\x02' * 300_000)\nraise e"
    result = await codeact.execute(code)
    assert result.error is not None
    assert (result.error.type, result.error.lineno) == ("KeyError", 3)
    assert CUT in result.error.message and CUT in result.error.traceback


async def test_chained_exceptions_are_each_cut(make_codeact: Callable[..., CodeAct]) -> None:
    code = (
        "try:\n    raise OSError('a' * 3_000_000)\n"
        "except OSError as e:\n    raise RuntimeError('b' * 3_000_000) from e\n"
    )
    result = await make_codeact().execute(code)
    assert result.error is not None
    assert result.error.type == "RuntimeError"
    tb = result.error.traceback
    assert "OSError: aaaa" in tb and "RuntimeError: bbbb" in tb
    assert tb.count(CUT) >= 2 and len(tb) < 200_000


async def test_a_syntax_error_on_a_line_of_megabytes_points_at_it(
    make_codeact: Callable[..., CodeAct],
) -> None:
    code = "x = 1\ny = '" + "a" * 5_000_000 + "' +\n"
    result = await make_codeact(limits=BIG_PROGRAMS).execute(code)
    assert result.error is not None
    assert (result.error.type, result.error.lineno) == ("SyntaxError", 2)
    assert len(result.error.traceback) < 20_000
    assert "' +" in result.error.traceback  # where the error is, with its caret
    assert "^" in result.error.traceback


async def test_a_traceback_line_of_megabytes_is_cut(make_codeact: Callable[..., CodeAct]) -> None:
    code = "x = 1\ny = 1 / 0 if x else '" + "a" * 3_000_000 + "'\n"
    result = await make_codeact(limits=BIG_PROGRAMS).execute(code)
    assert result.error is not None
    assert (result.error.type, result.error.lineno) == ("ZeroDivisionError", 2)
    assert result.error.traceback.endswith("ZeroDivisionError: division by zero\n")
    assert len(result.error.traceback) < 20_000


FORGED_REPORT = r"""
import codeact_host, struct, time
head = b'["r", "{\\"error\\": {\\"type\\": \\"ValueError\\", \\"message\\": \\"xxx'
codeact_host.HOST._sock.sendall(struct.pack(">I", 60 << 20) + head)
time.sleep(5)
"""


async def test_a_report_frame_over_its_limit_is_not_called_a_protocol_breach(
    backend_name: str, make_codeact: Callable[..., CodeAct]
) -> None:
    # What a guest that does not cut its error would send: the relay said "the sandbox broke
    # the channel protocol: a frame of ... bytes is over the limit".
    if backend_name != "jail":
        pytest.skip("the jail's frames (wasm's report: tests/unit/test_guest_reports.py)")
    result = await make_codeact().execute(FORGED_REPORT)
    assert result.error is not None and result.error.type == "SandboxError"
    assert "report was too large (62,914,560 bytes" in result.error.message
    assert "the program's uncaught ValueError" in result.error.message


async def test_a_whole_number_of_thousands_of_digits_comes_back_as_its_repr(
    make_codeact: Callable[..., CodeAct],
) -> None:
    # Past 4,300 digits (the program lifted its own limit) the host's json.loads refused the
    # report: SandboxError, the value and the run lost.
    lifted = "import sys\nsys.set_int_max_str_digits(0)\nprint('computed')\n"
    codeact = make_codeact()
    result = await codeact.execute(lifted + "10 ** 4400 + 7")
    assert result.ok, result.error
    assert result.stdout == "computed\n" and result.value is None
    assert result.value_repr == "1" + "0" * 4399 + "7"
    result = await codeact.execute(lifted + "{'n': -(10 ** 4400), 'k': 1}")
    assert result.ok, result.error
    assert result.value_repr == "{'n': -1" + "0" * 4400 + ", 'k': 1}"
    result = await codeact.execute(lifted + "import math\nmath.factorial(1500)")  # 4,115 digits
    assert result.ok and isinstance(result.value, int)
    result = await codeact.execute("10 ** 5000")  # the limit not lifted: repr() fails
    assert result.ok and "sys.set_int_max_str_digits(0) shows it" in (result.value_repr or "")


@pytest.mark.parametrize("lift", [True, False])
async def test_an_exit_status_of_thousands_of_digits_is_the_program_s_exit(
    make_codeact: Callable[..., CodeAct], lift: bool
) -> None:
    code = "import sys\nsys.set_int_max_str_digits(0)\n" if lift else "import sys\n"
    result = await make_codeact().execute(code + "sys.exit(10 ** 5000)")
    assert result.error is not None and result.error.type == "SystemExit", result.error
    assert result.exit_status is None
    assert "too large to be an exit status" in result.error.message


async def test_an_exception_class_named_with_megabytes_is_still_the_program_s_error(
    make_codeact: Callable[..., CodeAct],
) -> None:
    code = "E = type('E' * 5_000_000, (Exception,), {})\nprint('working')\nraise E('boom')"
    result = await make_codeact().execute(code)
    error = result.error
    assert error is not None and result.stdout == "working\n"
    assert error.type == "E" * 200 and error.message == "boom" and error.lineno == 3


async def test_a_program_too_deep_for_the_parser_is_not_the_memory_limit(
    make_codeact: Callable[..., CodeAct],
) -> None:
    result = await make_codeact().execute("x = " + "[" * 3000 + "]" * 3000)
    assert result.error is not None and result.error.limit is None
    # CPython's parser says MemoryError ("too complex to parse"): more memory changes nothing
    assert result.error.type in ("MemoryError", "SyntaxError", "RecursionError")
