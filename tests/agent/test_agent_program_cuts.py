"""What the agent does to a program before it runs, driven by the scripted chat client: a
program that defines the tools it was given (cut where they are top-level definitions,
refused where they are not), imports of the code tool and of the sandbox's own functions
(cut), a program that is one call of execute_code (the program it passes runs), and
arguments that are no program."""

from __future__ import annotations

import json

import pytest

from codeact import Agent, CodeAct, tool
from codeact.testing import ScriptedChat, call, code_call
from codeact.workloads import order_totals


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def tool_messages(chat: ScriptedChat, request: int) -> list[str]:
    return [m.content or "" for m in chat.requests[request].messages if m.role == "tool"]


def test_execute_code_arguments_that_are_not_code_are_reported() -> None:
    chat = ScriptedChat([call("execute_code", program="x"), "ok"])
    agent = Agent(client=chat, codeact=CodeAct(tools=[add], backend="wasm"))
    agent.run_sync("go")
    agent.close()
    message = tool_messages(chat, 1)[0]
    assert message.startswith('Error: execute_code takes one argument, {"code"')
    assert json.loads(chat.requests[1].messages[2].tool_calls[0].arguments) == {"program": "x"}


@pytest.mark.usefixtures("wasm_ready")
async def test_a_tool_defined_inside_other_code_is_not_run() -> None:
    mock = (
        "def helper():\n    def list_users():\n        return [{'id': 1}]\n"
        "    return list_users()\nprint(len(helper()))"
    )
    chat = ScriptedChat([code_call(mock), code_call("print(len(list_users()))"), "8"])
    agent = Agent(client=chat, codeact=CodeAct(tools=order_totals.TOOLS, backend="wasm"))
    result = await agent.run("How many users?")
    refusal = tool_messages(chat, 1)[0]
    assert refusal.startswith("Error: the program was not run, because it defines list_users()")
    assert tool_messages(chat, 2)[1] == "8"
    assert result.refused_programs == 1 and result.usage.code_executions == 1


@pytest.mark.usefixtures("wasm_ready")
async def test_top_level_definitions_of_tools_are_cut_and_the_rest_runs_on_the_real_ones() -> None:
    mock = (
        "def list_users():\n    return [{'id': 1, 'name': 'Made up'}]\n\n"
        "@staticmethod\ndef get_tax_rate(region):\n    return 0.0\n\n"
        "print(len(list_users()))"
    )
    chat = ScriptedChat([code_call(mock), "8"])
    agent = Agent(client=chat, codeact=CodeAct(tools=order_totals.TOOLS, backend="wasm"))
    result = await agent.run("How many users?")
    message = tool_messages(chat, 1)[0]
    # The real list_users(): eight users, not the made-up one; the note comes after the output.
    assert message.startswith("8\n[note] the program defined list_users(), get_tax_rate(), which")
    assert result.refused_programs == 0 and result.usage.code_executions == 1
    assert result.nudge_reasons == ["tool_definitions_removed"]
    assert result.programs == ["\n\nprint(len(list_users()))"]


@pytest.mark.usefixtures("wasm_ready")
async def test_an_import_of_the_code_tool_itself_is_cut_too() -> None:
    # What the embedded model wrote at the top of its demo programs.
    program = (
        "from tools import execute_code\nfrom tools import list_users\nprint(len(list_users()))"
    )
    chat = ScriptedChat([code_call(program), "8"])
    agent = Agent(client=chat, codeact=CodeAct(tools=order_totals.TOOLS, backend="wasm"))
    result = await agent.run("How many users?")
    assert tool_messages(chat, 1)[0].startswith("8\n[note] the program defined execute_code()")
    assert result.programs == ["print(len(list_users()))"]


@pytest.mark.usefixtures("wasm_ready")
async def test_imports_of_the_sandboxs_own_functions_are_cut_too() -> None:
    # What the embedded model wrote next: call_tool_async is the sandbox's, not a tool.
    program = (
        "import json\nfrom tools import call_tool_async\nfrom tools import ToolError\n"
        "print(len(list_users()))"
    )
    chat = ScriptedChat([code_call(program), "8"])
    agent = Agent(client=chat, codeact=CodeAct(tools=order_totals.TOOLS, backend="wasm"))
    result = await agent.run("How many users?")
    assert tool_messages(chat, 1)[0].startswith(
        "8\n[note] the program defined call_tool_async(), ToolError()"
    )
    assert result.programs == ["import json\nprint(len(list_users()))"]


@pytest.mark.usefixtures("wasm_ready")
async def test_a_program_that_calls_the_code_tool_runs_the_program_it_passes() -> None:
    # M3ToolEval, embedded model: its whole program was execute_code("""...""").
    program = 'execute_code("""\nusers = list_users()\nprint(len(users))\n""")'
    chat = ScriptedChat([code_call(program), "8"])
    agent = Agent(client=chat, codeact=CodeAct(tools=order_totals.TOOLS, backend="wasm"))
    result = await agent.run("How many users?")
    response = tool_messages(chat, 1)[0]
    assert response.startswith("8\n[note] the program was one call of execute_code(...)")
    assert result.nudge_reasons == ["code_tool_called_inside"]
    assert result.executions[0].ok and result.text == "8"
    # Anything more than that one call is the model's own program: it runs as written.
    other = ScriptedChat([code_call('x = 1\nexecute_code("print(1)")'), "no", "no", "no"])
    kept = await Agent(client=other, codeact=CodeAct(tools=order_totals.TOOLS)).run("go")
    assert not kept.executions[0].ok and kept.executions[0].error is not None
    assert kept.executions[0].error.type == "NameError"
