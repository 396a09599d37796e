"""`packages=` on the Agent Framework provider: passed through to codeact, resolved once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("agent_framework", reason="needs pip install -e '.[agent-framework]'")

from agent_framework import Agent

from codeact.integrations.agent_framework import CodeActProvider, ExecuteCodeTool
from codeact.sandbox.packages import resolve_packages

from .af_scripted_client import ScriptedChatClient, answer_with_result, run_code

pytestmark = pytest.mark.usefixtures("wasm_ready")


async def test_the_provider_grants_packages_to_the_agents_programs(wasm_packages: Any) -> None:
    client = ScriptedChatClient(
        [run_code("import tinyfmt\nprint(tinyfmt.show([1, 2]))"), answer_with_result()]
    )
    provider = CodeActProvider(backend="wasm", packages=wasm_packages)
    response = await Agent(client=client, context_providers=[provider]).run("go")
    assert "1.5" in response.text
    assert "import besides the standard library: tinyfmt" in provider.build_instructions()


async def test_the_tool_resolves_names_once_and_says_what_it_grants(
    pure_wheelhouse: Path,
) -> None:
    grant = resolve_packages(["tinycalc==1.0"], target="wasm", wheelhouse=pure_wheelhouse)
    execute_code = ExecuteCodeTool(backend="wasm", packages=grant)
    assert "tinycalc==1.0" in execute_code.description
    result = await execute_code.create_run_tool().run("import tinycalc\ntinycalc.mean([1, 3])")
    assert result.ok and result.value == 2.0
    assert result.packages == ["tinycalc==1.0"]
