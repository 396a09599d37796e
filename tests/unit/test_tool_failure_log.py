"""A tool's exception reaches the program as ``Type: message``; its traceback on the host is
logged at DEBUG on ``codeact.tools`` for the developer (before, it was nowhere: not in the
result, the record, the logs or the CLI's debug output)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from codeact import CodeAct, Limits, tool

from ..cli_run import run_codeact as codeact_cli


@tool
def price(item: str) -> float:
    """The price of an item."""
    return _lookup(item)


def _lookup(item: str) -> float:
    return [1.5][len(item)]  # the bug: IndexError for any item but ""


async def test_the_tools_traceback_is_logged_on_the_host(caplog: pytest.LogCaptureFixture) -> None:
    codeact = CodeAct(tools=[price], backend="wasm", limits=Limits(wall_time=30))
    with caplog.at_level(logging.DEBUG, logger="codeact.tools"):
        result = await codeact.execute("price(item='apple')")
    assert result.error is not None and "IndexError" in result.error.message
    assert "_lookup" not in result.to_model_text()  # the host's frames stay on the host
    logged = [r for r in caplog.records if r.name == "codeact.tools"]
    assert len(logged) == 1 and logged[0].levelno == logging.DEBUG
    text = logged[0].getMessage()
    assert text.startswith("price() raised:\nTraceback"), text
    assert "in _lookup" in text and "return [1.5][len(item)]" in text
    assert text.rstrip().endswith("IndexError: list index out of range")


async def test_nothing_is_formatted_unless_debug_is_on(caplog: pytest.LogCaptureFixture) -> None:
    codeact = CodeAct(tools=[price], backend="wasm", limits=Limits(wall_time=30))
    with caplog.at_level(logging.INFO, logger="codeact.tools"):
        await codeact.execute("price(item='apple')")
    assert [r for r in caplog.records if r.name == "codeact.tools"] == []


BUGGY_TOOLS = '''
from codeact import tool


@tool
def price(item: str) -> float:
    """The price of an item."""
    return [1.5][len(item)]
'''


def test_the_cli_prints_it_with_codeact_debug(tmp_path: Path) -> None:
    tools = tmp_path / "buggy.py"
    tools.write_text(BUGGY_TOOLS)
    program = "price(item='apple')"
    plain = codeact_cli("exec", "-", "--tools", str(tools), stdin=program)
    assert plain.returncode == 1 and "buggy.py" not in plain.stderr
    debug = codeact_cli(
        "exec", "-", "--tools", str(tools), stdin=program, env={**os.environ, "CODEACT_DEBUG": "1"}
    )
    assert debug.returncode == 1
    assert "codeact: debug: price() raised:" in debug.stderr
    assert f'File "{tools}", line 8, in price' in debug.stderr, debug.stderr
    assert debug.stderr.rstrip().endswith("ToolError: IndexError: list index out of range")
