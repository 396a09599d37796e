"""Every numeric flag of the CLI refuses a huge, NaN, infinite, negative or garbage value with
one short line and exit 2: a 400-digit --max-output printed an OverflowError traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from codeact.cli import main

from ..cli_run import run_codeact as codeact_cli

BIG = "1" + "0" * 400

#: Each numeric flag, with the command that takes it.
FLAGS = [
    "exec - --max-output",
    "exec - --memory",
    "exec - --timeout",
    "serve-mcp --timeout",
    "serve-mcp --max-concurrent",
    "serve-mcp --kept-sessions",
    "serve-mcp --kept-state-mb",
    "doctor --runs",
    "bench sandbox --runs",
    "bench packages --runs",
    "bench order-totals --runs",
    "bench m3tooleval --tasks",
    "bench m3tooleval --runs",
    "bench m3tooleval --max-turns",
]
VALUES = [BIG, "-" + BIG, BIG + ".5", "1e400", "nan", "inf", "-inf", "-1", "abc", "0x10", ""]


@pytest.mark.parametrize("flag", FLAGS)
def test_a_bad_number_for_any_numeric_flag_is_one_short_line_and_exit_2(flag: str) -> None:
    for value in VALUES:
        result = CliRunner().invoke(main, [*flag.split(), value], input="1")
        option = flag.split()[-1]
        assert result.exit_code == 2, (value, result.output, result.exception)
        assert result.output.startswith(f"codeact: error: {option}: must be "), (
            value,
            result.output,
        )
        assert result.output.count("\n") == 1 and len(result.output) < 160, result.output


def test_a_400_digit_max_output_is_a_usage_error_not_a_traceback() -> None:
    proc = codeact_cli("exec", "-", "--max-output", BIG, stdin="1")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (
        "codeact: error: --max-output: must be at most 1024 MiB "
        "(got 100000000000000000...000000000000000000 (401 characters))\n"
    )


def test_a_size_with_a_fraction_is_exact() -> None:
    from codeact.cli.params import Size

    assert Size().convert("1.5k", None, None) == 1536
    assert Size().convert("0.5MiB", None, None) == 512 * 1024
