"""What `execute_code` returns, item for item, next to what the reference returns.

The expected shapes are those of agent-framework-hyperlight's ``_build_execution_contents``
(commit 5eb3eb745e16324ac7bffb1dbe006d8f13c8d993): the table in docs/integrations.md. The
sandbox is real.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("agent_framework", reason="needs pip install -e '.[agent-framework]'")

from agent_framework import Content

from codeact import ConfigurationError, Limits
from codeact.integrations.agent_framework import ExecuteCodeTool

pytestmark = pytest.mark.usefixtures("wasm_ready")


def shape(contents: list[Content]) -> list[tuple[Any, ...]]:
    """Each item as the reference's code reads it (type, text or error, raw_representation)."""
    rows: list[tuple[Any, ...]] = []
    for c in contents:
        if c.type == "text":
            rows.append(("text", c.text, c.raw_representation))
        elif c.type == "error":
            rows.append(("error", c.message, c.error_details, c.raw_representation))
        else:
            rows.append((c.type, c.media_type, (c.additional_properties or {}).get("path")))
    return rows


async def invoke(code: str, **options: Any) -> list[Content]:
    tool = ExecuteCodeTool(**options)
    return list(await tool.invoke(arguments={"code": code}))


async def test_stdout_keeps_its_newline_and_the_raw_representation_is_the_snapshot() -> None:
    contents = await invoke("print(42)\n7 * 6")
    snapshot = {"success": True, "stdout": "42\n", "stderr": ""}
    assert shape(contents) == [("text", "42\n", snapshot)]
    # The last line's value is not in the text; it is in codeact's extra facts.
    assert (contents[0].additional_properties or {})["codeact"]["value"] == 42


async def test_stderr_on_success_is_its_own_text_item() -> None:
    contents = await invoke("import sys\nprint('out')\nprint('warn', file=sys.stderr)")
    snapshot = {"success": True, "stdout": "out\n", "stderr": "warn\n"}
    assert shape(contents) == [("text", "out\n", snapshot), ("text", "warn\n", snapshot)]


async def test_nothing_printed_gives_the_reference_notice_without_a_snapshot() -> None:
    contents = await invoke("x = 1")
    assert shape(contents) == [("text", "Code executed successfully without output.", None)]


async def test_files_come_after_stdout_and_before_stderr() -> None:
    contents = await invoke(
        "import sys\n"
        "open('/output/b.csv', 'w').write('x')\n"
        "open('/output/a.txt', 'w').write('y')\n"
        "print('made')\n"
        "print('note', file=sys.stderr)"
    )
    snapshot = {"success": True, "stdout": "made\n", "stderr": "note\n"}
    assert shape(contents) == [
        ("text", "made\n", snapshot),
        ("data", "text/plain", "/output/a.txt"),
        ("data", "text/csv", "/output/b.csv"),
        ("text", "note\n", snapshot),
    ]
    assert contents[1].uri is not None and contents[1].uri.startswith("data:")


async def test_only_files_give_only_data_items() -> None:
    contents = await invoke("open('/output/a.txt', 'w').write('y')")
    assert shape(contents) == [("data", "text/plain", "/output/a.txt")]


async def test_a_failure_is_an_error_item_with_stderr_then_the_traceback() -> None:
    contents = await invoke(
        "import sys\nprint('before')\nprint('careful', file=sys.stderr)\n{}['missing']"
    )
    details = (
        "careful\n"
        "Traceback (most recent call last):\n"
        '  File "<code>", line 4, in <module>\n'
        "    {}['missing']\n"
        "    ~~^^^^^^^^^^^\n"
        "KeyError: 'missing'\n"
    )
    snapshot = {"success": False, "stdout": "before\n", "stderr": details}
    assert shape(contents) == [
        ("text", "before\n", snapshot),
        ("error", "Execution error", details, snapshot),
    ]
    error = (contents[1].additional_properties or {})["codeact"]["error"]
    assert (error["type"], error["lineno"], error["limit"]) == ("KeyError", 4, None)


async def test_a_stopped_program_is_an_error_item_that_names_the_limit() -> None:
    contents = await invoke("print('start')\nwhile True:\n    pass", limits=Limits(wall_time=1))
    assert [c.type for c in contents] == ["text", "error"]
    error = contents[1]
    assert error.message == "Execution error"
    assert error.error_details is not None
    assert error.error_details.startswith("LimitExceeded: ")
    assert error.error_details.endswith("(limit: wall_time)\n")
    assert error.raw_representation == {
        "success": False,
        "stdout": "start\n",
        "stderr": error.error_details,
    }
    assert (error.additional_properties or {})["codeact"]["error"]["limit"] == "wall_time"


async def test_result_format_codeact_gives_codeacts_one_text_and_promises_the_value() -> None:
    tool = ExecuteCodeTool(result_format="codeact")
    contents = await tool.invoke(arguments={"code": "print('hi')\n6 * 7"})
    assert [c.type for c in contents] == ["text"]
    assert contents[0].text == "hi\n[value] 42"
    assert "the value of its last line" in tool.description
    assert "the value of the last line is returned" in str(tool.parameters())
    reference = ExecuteCodeTool()
    assert "the value of the last line is not returned" in reference.description
    assert "is not returned" in str(reference.parameters())
    with pytest.raises(ConfigurationError, match="result_format must be 'reference' or 'codeact'"):
        ExecuteCodeTool(result_format="text")  # type: ignore[arg-type]


async def test_an_error_message_with_lone_surrogates_is_escaped_in_the_details() -> None:
    """The details go to a model's API as UTF-8, which cannot hold lone surrogates."""
    contents = await invoke("raise ValueError('bad \\udfff')")
    error = contents[-1]
    assert error.error_details is not None
    error.error_details.encode("utf-8")
    assert "bad \\udfff" in error.error_details
