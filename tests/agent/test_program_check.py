"""Programs that would replace a sandbox tool with a definition of their own are caught."""

from __future__ import annotations

from codeact.agent.program_check import shadowed_tools, strip_tool_definitions

TOOLS = {"list_users", "get_tax_rate"}


def test_definitions_assignments_and_imports_of_tool_names_are_found() -> None:
    code = (
        "import get_tax_rate\n"
        "def helper():\n    def list_users():\n        return []\n"
        "list_users = lambda: []\n"
    )
    assert shadowed_tools(code, TOOLS) == ["get_tax_rate", "list_users"]


def test_calls_and_other_names_are_fine() -> None:
    code = "users = list_users()\nrate = get_tax_rate(region='EU')\ndef total(x):\n    return x\n"
    assert shadowed_tools(code, TOOLS) == []


def test_unparsable_code_is_left_to_the_sandbox() -> None:
    assert shadowed_tools("def list_users(:\n", TOOLS) == []


def test_top_level_definitions_are_cut_with_their_decorators() -> None:
    code = (
        "import json\n@cache\ndef list_users():\n    return []\n"
        "get_tax_rate = lambda region: 0.2\nfrom x import list_users as list_users\n"
        "print(list_users())\n"
    )
    stripped = strip_tool_definitions(code, TOOLS)
    assert stripped is not None
    assert stripped.code == "import json\nprint(list_users())\n"
    assert stripped.removed == ["list_users", "get_tax_rate"]


def test_definitions_that_cannot_be_cut_cleanly_are_left_whole() -> None:
    nested = "def helper():\n    def list_users():\n        return []\nprint(helper())\n"
    mixed = "list_users = other = []\nprint(other)\n"
    same_line = "def list_users(): return []\n"
    one_line = "list_users = 1; print(list_users)\n"
    only_definitions = "def list_users():\n    return []\n"
    for code in (nested, mixed, one_line, only_definitions, same_line):
        assert strip_tool_definitions(code, TOOLS) is None, code
    assert strip_tool_definitions("print(list_users())\n", TOOLS) is None
