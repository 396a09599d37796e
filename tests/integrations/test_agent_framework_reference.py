"""The reference's own public tests, run against codeact's provider with the imports changed.

Ported from Microsoft Agent Framework, ``python/packages/hyperlight/tests/hyperlight/
test_hyperlight_codeact.py`` at commit 5eb3eb745e16324ac7bffb1dbe006d8f13c8d993 (the file's
last change: 5147579992ec23ac03969d5576f76adc98fccf06), MIT licence, Copyright (c) Microsoft.
The test bodies are the reference's, byte for byte, except:

- the imports: ``agent_framework_hyperlight``'s public names come from
  ``codeact.integrations.agent_framework`` under the reference's names;
- ``_registry=_FakeRuntime()`` is left out of the constructors: it is the reference's private
  hook for a fake sandbox runtime (`SandboxRuntime`), which these tests pass only so that no
  sandbox is built; codeact builds none at construction;
- ``skip_if_hyperlight_integration_tests_disabled`` and
  ``_skip_if_hyperlight_integration_runtime_disabled()`` are left out: the ``integration`` tests
  (in test_agent_framework_reference_integration.py) run on codeact's real wasm sandbox
  (skipped, with the reason, where it cannot start);
  ``_close_provider_registry``/``_close_execute_code_registry`` close nothing (codeact keeps no
  sandbox per tool: each program runs in a fresh one);
- ``test_provider_run_tool_pings_bing_with_real_sandbox`` is skipped: it needs the internet.

Not ported, because they reach into the reference's private modules or its VM:

- ``test_execute_code_tool_parent_span_for_host_tools``,
  ``test_execute_code_tool_populates_input_dir_with_workspace_and_file_mounts``,
  ``test_execute_code_tool_executes_with_structured_content``,
  ``test_execute_code_tool_collects_output_files_without_backend_listing``,
  ``test_execute_code_tool_waits_for_unlisted_output_files_to_appear``,
  ``test_execute_code_tool_failure_returns_error_content``,
  ``test_execute_code_tool_retries_allowed_domains_with_urls_when_backend_rejects_host_targets``,
  ``test_agent_runs_hyperlight_codeact_end_to_end_with_fake_sandbox``: they monkeypatch
  ``_execute_code_tool._load_sandbox_class`` with the test's ``_FakeSandbox`` (the real-sandbox
  twin of the last one is ported; codeact's own tests check spans, /input, files and the error
  content on the real sandbox, in test_agent_framework*.py);
- ``test_resolve_contained_path_reports_runtime_resolve_failures``, the seven
  ``test_populate_input_dir_rejects_*`` tests, ``test_path_tree_signature_rejects_symlinks``,
  ``test_path_tree_signature_walks_through_symlinked_root``, the ``test_collect_output_*``,
  ``test_parse_output_files_*``, ``test_is_safe_output_file_*``,
  ``test_clear_directory_removes_junction_without_deleting_target``,
  ``test_execute_code_tool_normalizers_reject_invalid_inputs``,
  ``test_execute_code_tool_shape_guards_validate_pairs``,
  ``test_instruction_builders_cover_mounted_paths_and_workspace_free_filesystem_state``,
  ``test_hyperlight_integration_runtime_skip_reason_reports_missing_hypervisor``, the three
  ``test_make_sandbox_callback_*``: they call the reference's private functions
  (``execute_code_module._*``, ``instructions_module._*``); codeact's refusal of links is in
  test_agent_framework_grants.py;
- ``test_sandbox_runs_simple_code``, ``test_sandbox_stdout_and_stderr_captured``,
  ``test_sandbox_code_failure_returns_nonzero_exit``,
  ``test_sandbox_snapshot_restore_keeps_sandbox_functional``,
  ``test_sandbox_with_tool_registration_and_execution``,
  ``test_sandbox_async_callback_round_trips_with_real_sandbox``: they drive Hyperlight's
  ``WasmSandbox`` VM directly;
- ``test_sandbox_calls_are_pinned_to_owning_worker_thread``,
  ``test_sandbox_owner_thread_persists_across_dispatch_threads``,
  ``test_sandbox_registry_close_*``, ``test_sandbox_run_result_is_finalized_on_owner_thread``,
  ``test_sandbox_is_finalized_on_owner_thread_after_registry_close``,
  ``test_worker_failure_does_not_leak_unsendable_via_exception_traceback``,
  ``test_sandbox_entry_does_not_expose_unsendable_attributes``,
  ``test_sandbox_survives_external_thread_holding_stale_reference``: the reference's worker
  thread and registry (``_SandboxWorker``, ``_SandboxRegistry``) around its PyO3 objects;
- ``test_run_code_does_not_block_event_loop`` replaces ``run_tool._registry.execute`` (private)
  with a blocking function; its claim is checked by
  ``test_run_code_does_not_block_event_loop_on_codeacts_sandbox`` (not the reference's code),
  in test_agent_framework_reference_integration.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest

pytest.importorskip("agent_framework", reason="needs pip install -e '.[agent-framework]'")

from agent_framework import tool

# The one change a user of the reference makes:
from codeact.integrations.agent_framework import AllowedDomain, FileMount
from codeact.integrations.agent_framework import CodeActProvider as HyperlightCodeActProvider
from codeact.integrations.agent_framework import ExecuteCodeTool as HyperlightExecuteCodeTool

pytestmark = pytest.mark.usefixtures("wasm_ready")


@tool(approval_mode="never_require")
def compute(a: int, b: int) -> int:
    return a + b


@tool(approval_mode="always_require")
def dangerous_compute(a: int, b: int) -> int:
    return a * b


@tool(name="compute", approval_mode="always_require")
def replacement_compute(a: int, b: int) -> int:
    return a - b


class _FakeSessionContext:
    def __init__(self, *, tools: list[Any] | None = None) -> None:
        self.options: dict[str, Any] = {}
        if tools is not None:
            self.options["tools"] = tools
        self.instructions: list[tuple[str, str]] = []
        self.tools: list[tuple[str, list[Any]]] = []

    def extend_instructions(self, source_id: str, instructions: str) -> None:
        self.instructions.append((source_id, instructions))

    def extend_tools(self, source_id: str, tools: list[Any]) -> None:
        self.tools.append((source_id, tools))


def test_execute_code_tool_updates_approval_with_managed_tools() -> None:
    execute_code = HyperlightExecuteCodeTool(tools=[compute])
    modes = [execute_code.approval_mode]

    execute_code.add_tools([dangerous_compute])
    modes.append(execute_code.approval_mode)
    assert modes == ["never_require", "always_require"]


def test_execute_code_tool_replaces_tools_with_the_same_name() -> None:
    execute_code = HyperlightExecuteCodeTool(tools=[compute])

    execute_code.add_tools(replacement_compute)

    tools = execute_code.get_tools()
    assert len(tools) == 1
    assert tools[0] is replacement_compute
    assert execute_code.approval_mode == "always_require"


def test_execute_code_tool_accepts_string_and_tuple_file_mounts_without_mode_flags(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shorthand_file = tmp_path / "notes.txt"
    shorthand_file.write_text("hello", encoding="utf-8")
    explicit_file = tmp_path / "data.json"
    explicit_file.write_text('{"hello": "world"}', encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    execute_code = HyperlightExecuteCodeTool()
    execute_code.add_file_mounts("notes.txt")
    execute_code.add_file_mounts((explicit_file, "data/data.json"))

    assert execute_code.get_file_mounts() == [
        FileMount(shorthand_file.resolve(), "/input/notes.txt"),
        FileMount(explicit_file.resolve(), "/input/data/data.json"),
    ]


def test_execute_code_tool_allowed_domains_use_structured_entries_and_replace_by_target() -> None:
    execute_code = HyperlightExecuteCodeTool()

    execute_code.add_allowed_domains(["https://api.example.com/v1", ("github.com", "get")])
    execute_code.add_allowed_domains(
        [
            AllowedDomain("api.example.com", ("post", "get")),
            ("github.com", ["head", "get"]),
        ]
    )

    assert execute_code.get_allowed_domains() == [
        AllowedDomain("api.example.com", ("GET", "POST")),
        AllowedDomain("github.com", ("GET", "HEAD")),
    ]


def test_execute_code_tool_description_contains_call_tool_guidance(tmp_path: Path) -> None:
    workspace_root = tmp_path / "workspace"
    workspace_root.mkdir()
    (workspace_root / "notes.txt").write_text("hello", encoding="utf-8")
    mount_file = tmp_path / "data.json"
    mount_file.write_text('{"hello": "world"}', encoding="utf-8")

    execute_code = HyperlightExecuteCodeTool(
        tools=[compute],
        workspace_root=workspace_root,
        file_mounts=[FileMount(str(mount_file), "data/data.json")],
        allowed_domains=[
            AllowedDomain("https://api.example.com/v1", ("get", "post")),
            "github.com",
        ],
    )

    description = execute_code.description

    assert "call_tool(name, **kwargs)" in description
    assert "compute" in description
    assert "/input/data/data.json" in description
    assert "/output" in description
    assert "api.example.com" in description
    assert "GET, POST" in description
    assert "github.com" in description


async def test_provider_injects_run_scoped_execute_code_tool() -> None:
    provider = HyperlightCodeActProvider(tools=[compute])
    context = _FakeSessionContext(tools=[dangerous_compute])
    state: dict[str, Any] = {}

    await provider.before_run(agent=object(), session=None, context=cast(Any, context), state=state)

    assert context.options["tools"] == [dangerous_compute]
    assert len(context.instructions) == 1
    assert len(context.tools) == 1

    run_tool = context.tools[0][1][0]
    assert isinstance(run_tool, HyperlightExecuteCodeTool)
    assert run_tool.approval_mode == "never_require"
    assert [tool_obj.name for tool_obj in run_tool.get_tools()] == ["compute"]
    assert "dangerous_compute" not in context.instructions[0][1]
    assert "compute" not in context.instructions[0][1]
    assert "Filesystem capabilities:" not in context.instructions[0][1]
    assert state[provider.source_id]["tool_names"] == ["compute"]
    assert state[provider.source_id]["approval_mode"] == "never_require"
    json.dumps(state)

    provider.remove_tool("compute")
    assert [tool_obj.name for tool_obj in run_tool.get_tools()] == ["compute"]


def test_provider_delegates_file_mounts_and_allowed_domains_to_internal_tool(
    tmp_path: Path,
) -> None:
    provider = HyperlightCodeActProvider()

    provider.add_file_mounts((tmp_path, "reports/output.txt"))
    assert provider.get_file_mounts() == [
        FileMount(tmp_path.resolve(), "/input/reports/output.txt")
    ]

    provider.remove_file_mount("/input/reports/output.txt")
    assert provider.get_file_mounts() == []

    provider.add_file_mounts((tmp_path, "reports/output.txt"))
    provider.clear_file_mounts()
    assert provider.get_file_mounts() == []

    provider.add_allowed_domains([("api.example.com", "get"), "github.com"])
    assert provider.get_allowed_domains() == [
        AllowedDomain("api.example.com", ("GET",)),
        AllowedDomain("github.com", None),
    ]

    provider.remove_allowed_domain("github.com")
    assert provider.get_allowed_domains() == [AllowedDomain("api.example.com", ("GET",))]

    provider.clear_allowed_domains()
    assert provider.get_allowed_domains() == []
