"""codeact's Agent Framework tool and provider as a drop-in for the reference, Microsoft's
agent-framework-hyperlight: its sample scripts run with only the import changed, and the
constructors, methods and the forms of mounts, domains and tools are the reference's; what
the sandbox cannot honour is refused clearly.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest

pytest.importorskip("agent_framework", reason="needs pip install -e '.[agent-framework]'")

from agent_framework import FunctionTool, tool

from codeact import ConfigurationError
from codeact.integrations.agent_framework import (
    AllowedDomain,
    CodeActProvider,
    ExecuteCodeTool,
    FileMount,
)

pytestmark = pytest.mark.usefixtures("wasm_ready")

SAMPLES = Path(__file__).parent / "reference_samples"


@tool(approval_mode="never_require")
def compute(
    operation: Annotated[Literal["add", "multiply"], "The operation."],
    a: Annotated[float, "Left operand."],
    b: Annotated[float, "Right operand."],
) -> float:
    """Do one arithmetic operation."""
    return a + b if operation == "add" else a * b


@tool(approval_mode="never_require")
async def fetch_data(table: Annotated[str, "users or products"]) -> list[dict[str, Any]]:
    """Fetch the rows of a table."""
    await asyncio.sleep(0)
    if table != "users":
        return []
    return [{"name": "Alice", "role": "admin"}, {"name": "Bob", "role": "user"}]


REFERENCE_IMPORTS = {
    "hyperlight_context_provider.py": (
        "from agent_framework_hyperlight import HyperlightCodeActProvider",
        "from codeact.integrations.agent_framework import CodeActProvider as "
        "HyperlightCodeActProvider",
    ),
    "hyperlight_execute_code_tool.py": (
        "from agent_framework_hyperlight import HyperlightExecuteCodeTool",
        "from codeact.integrations.agent_framework import ExecuteCodeTool as "
        "HyperlightExecuteCodeTool",
    ),
}


@pytest.mark.parametrize("sample", sorted(REFERENCE_IMPORTS))
def test_a_script_written_for_the_reference_runs_with_only_the_import_changed(
    sample: str, tmp_path: Path
) -> None:
    original = (SAMPLES / sample).read_text()
    old, new = REFERENCE_IMPORTS[sample]
    assert original.count(old + "\n") == 1
    script = tmp_path / sample
    script.write_text(original.replace(old + "\n", new + "\n"))
    changed = [
        (a, b)
        for a, b in zip(original.splitlines(), script.read_text().splitlines(), strict=True)
        if a != b
    ]
    assert changed == [(old, new)]
    env = {**os.environ, "PYTHONPATH": str(SAMPLES)}
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert "Admins: ['Alice', 'Charlie']" in proc.stdout
    assert "7 * 6 = 42.0" in proc.stdout
    assert proc.stdout.rstrip().endswith("7 * 6 = 42.0")
    if sample == "hyperlight_context_provider.py":
        # The sample's function middleware sees the calls made from inside the program too.
        assert "> fetch_data(table='users')" in proc.stdout
        assert "> compute(operation='multiply', a=7, b=6)" in proc.stdout


def test_constructor_and_methods_match_the_reference() -> None:
    # HyperlightExecuteCodeTool's parameters at 5eb3eb745e16 (less its private `_registry`),
    # with their defaults; the rest are codeact's own.
    reference_arguments = {
        "tools": None,
        "approval_mode": None,
        "workspace_root": None,
        "file_mounts": None,
        "allowed_domains": None,
        "backend": "wasm",
        "module": "python_guest.path",
        "module_path": None,
    }
    signature = inspect.signature(ExecuteCodeTool).parameters
    ours = set(signature)
    assert {n: signature[n].default for n in reference_arguments} == reference_arguments
    ours_only = {"limits", "result_format", "approval_scope", "approval_handler"}
    ours_only |= {"approval_timeout", "middleware", "redact", "audit"}
    ours_only |= {"tool_description_format", "max_output_files", "max_output_file_bytes"}
    ours_only |= {"max_output_total_bytes", "packages", "sessions", "session_key"}
    assert ours - set(reference_arguments) == ours_only
    methods = [
        f"{verb}_{noun}"
        for noun in ("tools", "file_mounts", "allowed_domains")
        for verb in ("add", "get", "clear")
    ] + ["remove_tool", "remove_file_mount", "remove_allowed_domain", "build_instructions"]
    for cls in (ExecuteCodeTool, CodeActProvider):
        missing = [m for m in methods if not callable(getattr(cls, m, None))]
        assert missing == [], cls
    assert issubclass(ExecuteCodeTool, FunctionTool)
    provider = CodeActProvider(tools=[compute], approval_mode="never_require", backend="wasm")
    assert provider.source_id == CodeActProvider.DEFAULT_SOURCE_ID == "hyperlight_codeact"
    assert CodeActProvider("mine").source_id == "mine"
    # The provider's arguments are explicit (an editor and a type checker see them), keyword-only
    # after source_id, and the same as the tool's.
    provider_parameters = inspect.signature(CodeActProvider).parameters
    assert set(provider_parameters) == {"source_id"} | ours
    assert all(
        p.kind is inspect.Parameter.KEYWORD_ONLY
        for name, p in provider_parameters.items()
        if name != "source_id"
    )
    with pytest.raises(TypeError, match="workspace_rot"):
        CodeActProvider(workspace_rot="/tmp")  # type: ignore[call-arg]


def test_file_mounts_and_allowed_domains_take_the_reference_forms(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    data = tmp_path / "data.json"
    data.write_text("{}")
    execute_code = ExecuteCodeTool(
        workspace_root=tmp_path,
        file_mounts=[str(tmp_path / "notes.txt"), (data, "/input/cfg/data.json")],
        allowed_domains=["API.github.com", ("example.org", ["get", "post"])],
    )
    execute_code.add_file_mounts(FileMount(str(data), "other.json"))
    execute_code.add_allowed_domains(AllowedDomain("https://internal.example/", ("GET",)))
    assert execute_code.get_file_mounts() == [
        FileMount((tmp_path / "notes.txt").resolve(), f"/input{tmp_path / 'notes.txt'}"),
        FileMount(data.resolve(), "/input/cfg/data.json"),
        FileMount(data.resolve(), "/input/other.json"),
    ]
    assert execute_code.get_allowed_domains() == [
        AllowedDomain("api.github.com", None),
        AllowedDomain("example.org", ("GET", "POST")),
        AllowedDomain("internal.example", ("GET",)),
    ]
    execute_code.remove_file_mount("cfg/data.json")
    execute_code.remove_allowed_domain("https://API.github.com")
    with pytest.raises(KeyError):
        execute_code.remove_file_mount("/input/missing")
    with pytest.raises(KeyError):
        execute_code.remove_allowed_domain("nowhere.example")
    assert len(execute_code.get_file_mounts()) == 2
    execute_code.clear_file_mounts()
    execute_code.clear_allowed_domains()
    assert execute_code.get_file_mounts() == [] == execute_code.get_allowed_domains()
    with pytest.raises(ConfigurationError, match="no such file"):
        execute_code.add_file_mounts(str(tmp_path / "absent"))
    with pytest.raises(ConfigurationError, match="inside /input"):
        execute_code.add_file_mounts((str(data), "../escape"))


def test_tool_management_follows_the_reference() -> None:
    @tool(name="compute", approval_mode="always_require")
    def strict_compute(a: int, b: int) -> int:
        """A replacement that needs approval."""
        return a - b

    execute_code = ExecuteCodeTool(tools=compute)
    modes = [execute_code.approval_mode]
    execute_code.add_tools(strict_compute)  # same name: replaces
    assert execute_code.get_tools() == [strict_compute]
    modes.append(execute_code.approval_mode)
    execute_code.clear_tools()
    modes.append(execute_code.approval_mode)
    assert modes == ["never_require", "always_require", "never_require"]
    assert ExecuteCodeTool(approval_mode="always_require").approval_mode == "always_require"
    with pytest.raises(KeyError):
        execute_code.remove_tool("compute")


def test_json_description_format_adds_each_tools_schema() -> None:
    compact = ExecuteCodeTool(tools=[compute, fetch_data]).description
    assert "JSON schema" not in compact
    per_tool = ExecuteCodeTool(
        tools=[compute, fetch_data], tool_description_format={"compute": "json"}
    ).description
    assert per_tool.count("Arguments (JSON schema):") == 1
    assert '"enum": [\n' in per_tool
    every = ExecuteCodeTool(tools=[compute, fetch_data], tool_description_format="json")
    assert every.description.count("Arguments (JSON schema):") == 2


def test_options_the_sandbox_cannot_honour_are_refused_clearly() -> None:
    with pytest.raises(ConfigurationError, match="Hyperlight guest"):
        ExecuteCodeTool(module_path="/opt/guest.aot")
    with pytest.raises(ConfigurationError, match="'compact' or 'json'"):
        ExecuteCodeTool(tool_description_format="yaml")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="max_output_files"):
        ExecuteCodeTool(max_output_files=0)
