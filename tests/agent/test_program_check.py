"""Programs that would replace a sandbox tool with a definition of their own are caught."""

from __future__ import annotations

from codeact.agent.program_check import shadowed_tools

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
