"""What the framework adapters share: the CodeAct behind them, approvals through the framework,
and FastMCP's program conventions; none of it needs a framework installed."""

from __future__ import annotations

import ast
import subprocess
import sys
from typing import Any

import pytest

from codeact import (
    Approval,
    ApprovalRequest,
    CodeAct,
    ConfigurationError,
    DenyAll,
    Limits,
    MockBackend,
    tool,
)
from codeact.integrations._adapter import FrameworkApprovals, codeact_from
from codeact.integrations._fastmcp_program import fix_line_numbers, wrap_program

FRAMEWORKS = ("langchain_core", "langgraph", "pydantic_ai", "agents", "fastmcp", "smolagents")


def test_importing_codeact_imports_no_framework() -> None:
    code = f"import codeact, sys; print([m for m in {FRAMEWORKS!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@tool(approval_mode="always_require")
def send_email(to: str) -> str:
    """Send an email."""
    return "sent"


def test_options_build_a_codeact_whose_gated_calls_the_framework_approves() -> None:
    core = codeact_from(
        tools=[send_email], codeact=None, options={"limits": Limits(wall_time=3)}, framework="X"
    )
    assert core.framework_approves
    assert core.codeact.limits.wall_time == 3
    assert core.plan_to_approve('send_email(to="a")\nsend_email(to="b")') == {"send_email": 2}
    assert core.plan_to_approve("1 + 1") is None


def test_a_users_handler_or_a_ready_codeact_decides_instead() -> None:
    with_handler = codeact_from(
        tools=[send_email], codeact=None, options={"approval_handler": DenyAll()}, framework="X"
    )
    assert not with_handler.framework_approves
    ready = codeact_from(tools=[send_email], codeact=CodeAct(), options={}, framework="X")
    assert not ready.framework_approves
    assert ready.codeact.tools.get("send_email") is not None


def test_unknown_options_and_both_forms_are_one_line_errors() -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        codeact_from(tools=[], codeact=CodeAct(), options={"limits": Limits()}, framework="X")
    with pytest.raises(ConfigurationError, match="CodeAct's options"):
        codeact_from(tools=[], codeact=None, options={"limit": Limits()}, framework="X")


async def test_approved_plan_lets_exactly_the_calls_the_person_saw_through() -> None:
    core = codeact_from(tools=[send_email], codeact=None, options={}, framework="X")
    handler = FrameworkApprovals(None)
    request = ApprovalRequest(kind="call", tool="send_email", arguments={"to": "a"})
    denied = await handler(request)
    assert not getattr(denied, "approved", denied)
    with core.approved_plan({"send_email": 1}, by="the test"):
        first, second = await handler(request), await handler(request)
    assert getattr(first, "approved", None) is True
    assert getattr(second, "approved", None) is False
    assert "approved for the 1 call the person saw" in (getattr(second, "reason", "") or "")


async def test_programs_beyond_the_plan_are_denied_in_the_sandbox(wasm_ready: None) -> None:
    core = codeact_from(tools=[send_email], codeact=None, options={}, framework="X")
    code = 'send_email(to="a")\nfor _ in range(2):\n    send_email(to="b")'
    with core.approved_plan({"send_email": 1}, by="the test"):
        result = await core.codeact.execute(code)
    assert not result.ok
    assert [c.outcome for c in result.tool_calls][:2] == ["ok", "denied"]


def test_wrapped_program_keeps_strings_and_reports_the_models_line_numbers() -> None:
    code = 'x = """a\n  b"""\nif x:\n    y = 1\nreturn x'
    wrapped = wrap_program(code, bindings={"call_tool": "None"}, inputs={"n": [1, 2]})
    tree = ast.parse(wrapped)
    function = tree.body[0]
    assert isinstance(function, ast.AsyncFunctionDef)
    assert function.args.defaults and len(function.args.args) == 2
    namespace: dict[str, object] = {}
    exec(
        compile(ast.parse(wrapped.replace("await __codeact_program__()", "")), "<code>", "exec"),
        namespace,
    )
    assert "line 5, in <module>" in fix_line_numbers(
        'File "<code>", line 6, in __codeact_program__'
    )
    assert "line 2" in fix_line_numbers('File "<code>", line 3')


def test_inputs_must_be_free_identifiers_with_json_values() -> None:
    with pytest.raises(ConfigurationError, match="identifier"):
        wrap_program("1", bindings={}, inputs={"not a name": 1})
    with pytest.raises(ConfigurationError, match="JSON"):
        wrap_program("1", bindings={}, inputs={"x": object()})


def test_block_scope_asks_about_every_block_when_a_gated_tool_exists() -> None:
    core = codeact_from(
        tools=[send_email], codeact=None, options={"approval_scope": "block"}, framework="X"
    )
    assert core.plan_to_approve("1 + 1") == {}


ADAPTERS = {
    "langchain": ("codeact.integrations.langchain", "CodeActTool", "langchain_core"),
    "pydantic_ai": ("codeact.integrations.pydantic_ai", "CodeActToolset", "pydantic_ai"),
    "openai_agents": ("codeact.integrations.openai_agents", "codeact_tool", "agents"),
    "smolagents": ("codeact.integrations.smolagents", "CodeActExecutor", "smolagents"),
}


@pytest.mark.parametrize("adapter", list(ADAPTERS))
def test_one_tool_not_in_a_list_says_how_to_write_it(adapter: str) -> None:
    import importlib

    module_name, attr, needs = ADAPTERS[adapter]
    pytest.importorskip(needs, reason=f"needs pip install -e '.[{adapter.replace('_', '-')}]'")
    make = getattr(importlib.import_module(module_name), attr)

    def get_weather(city: str) -> dict[str, str]:
        """The weather in a city."""
        return {"city": city}

    # was: TypeError: 'function' object is not iterable
    with pytest.raises(ConfigurationError, match=r"must be a list, got function; write tools="):
        make(tools=get_weather)


LOOP = 'for to in ["a", "b", "c"]:\n    send_email(to=to)'


def test_a_gated_site_in_a_loop_is_shown_as_any_number_of_times() -> None:
    from codeact.integrations._adapter import approval_payload

    core = codeact_from(tools=[send_email], codeact=None, options={}, framework="X")
    counts = core.plan_to_approve(LOOP)
    assert counts == {"send_email": 1}
    payload = approval_payload(LOOP, counts)
    assert payload["repeated"] == ["send_email"]
    assert payload["question"] == (
        "run this program? it calls send_email (in a loop or function: any number of times)"
    )
    straight = core.plan_to_approve('send_email(to="a")')
    assert straight is not None
    assert (
        approval_payload("", straight)["question"] == "run this program? it calls send_email (1x)"
    )


async def test_approving_a_loop_lets_its_gated_call_run_as_often_as_the_loop(
    wasm_ready: None,
) -> None:
    core = codeact_from(tools=[send_email], codeact=None, options={}, framework="X")
    counts = core.plan_to_approve(LOOP)
    assert counts is not None
    with core.approved_plan(counts, by="the test"):
        result = await core.codeact.execute(LOOP)
    assert result.ok, result.to_model_text()
    assert [c.outcome for c in result.tool_calls] == ["ok", "ok", "ok"]


async def test_a_denial_beyond_the_plan_says_what_was_approved_and_why_not() -> None:
    core = codeact_from(tools=[send_email], codeact=None, options={}, framework="X")
    handler = FrameworkApprovals(None)
    request = ApprovalRequest(kind="call", tool="send_email", arguments={"to": "a"})
    with core.approved_plan({"send_email": 1}, by="the test"):
        await handler(request)
        again = await handler(request)
    reason = getattr(again, "reason", "") or ""
    assert "approved for the 1 call the person saw" in reason
    assert "literal arguments" not in reason
    other = ApprovalRequest(kind="call", tool="archive", arguments={})
    with core.approved_plan({"send_email": 1}, by="the test"):
        missing = await handler(other)
    reason = getattr(missing, "reason", "") or ""
    assert "archive() was not among the calls the person approved before" in reason
    assert "(send_email (1x))" in reason
    assert "literal name" in reason


@pytest.mark.parametrize(
    "answer", [True, Approval.approve("ok")], ids=["returns-bool", "returns-approval"]
)
@pytest.mark.parametrize("adapter", list(ADAPTERS))
def test_a_sync_approval_handler_works_in_every_adapter(
    adapter: str, answer: object, wasm_ready: None
) -> None:
    import importlib

    module_name, attr, needs = ADAPTERS[adapter]
    pytest.importorskip(needs, reason=f"needs pip install -e '.[{adapter.replace('_', '-')}]'")
    make = getattr(importlib.import_module(module_name), attr)
    asked: list[str | None] = []

    def handler(request: ApprovalRequest) -> object:  # a plain function, as CodeAct takes
        asked.append(request.tool)
        return answer

    made = make(tools=[send_email], approval_handler=handler)
    result = made.codeact.execute_sync('send_email(to="a")')
    assert result.ok, result.to_model_text()
    assert result.value == "sent" and asked == ["send_email"]


async def test_a_call_no_shown_site_accounts_for_gets_no_framework_grant() -> None:
    """A person approved ``send_email(to="ann")``; a call the scan did not see (a path it does
    not know, as a frame the jail's program writes itself) used up that grant with other
    arguments. Each site now grants what it shows."""
    core = codeact_from(tools=[send_email], codeact=None, options={}, framework="X")
    counts = core.plan_to_approve('send_email(to="ann")')
    assert counts is not None
    handler = FrameworkApprovals(None)
    hidden = ApprovalRequest(kind="call", tool="send_email", arguments={"to": "boss"})
    shown = ApprovalRequest(kind="call", tool="send_email", arguments={"to": "ann"})
    with core.approved_plan(counts, by="the test"):
        first, second, third = await handler(hidden), await handler(shown), await handler(shown)
    assert getattr(first, "approved", None) is False
    assert "matches none of them" in (getattr(first, "reason", "") or "")
    assert getattr(second, "approved", None) is True
    assert getattr(third, "approved", None) is False  # the site ran its one call


async def test_in_plan_scope_the_block_grants_sites_not_counts() -> None:
    """Approving the block answered with a count per tool, which a call no site accounts for
    used up in scope "plan" (a jail program's own frame deleted "EVERYONE" on the grant of
    the person's ``delete(name="bob")``)."""

    def program(code: str, call_tool: Any) -> list[str]:
        outcomes = []
        for to in ("boss", "ann"):
            try:
                outcomes.append(call_tool("send_email", to=to))
            except Exception as exc:
                outcomes.append(type(exc).__name__)
        return outcomes

    options = {"backend": MockBackend(program), "approval_scope": "plan"}
    core = codeact_from(tools=[send_email], codeact=None, options=options, framework="X")
    counts = core.plan_to_approve('send_email(to="ann")')
    assert counts is not None
    with core.approved_plan(counts, by="the test"):
        result = await core.codeact.execute('send_email(to="ann")')
    assert [(c.arguments["to"], c.outcome) for c in result.tool_calls] == [
        ("boss", "denied"),
        ("ann", "ok"),
    ]


@pytest.mark.parametrize("scope", ["plan", "block", "call"])
async def test_after_the_shown_calls_a_hidden_one_gets_no_grant_in_any_scope(scope: str) -> None:
    """In scope "plan" codeact's copy of the sites and the adapter's own each granted the
    shown calls (a hidden repeat ran on the second copy); in scope "block" the block's answer
    pre-approved every call, tools the person never saw included."""

    def program(code: str, call_tool: Any) -> list[str]:
        outcomes = []
        for to in ("ann", "ann", "evil"):  # the shown call, then two nobody read
            try:
                outcomes.append(call_tool("send_email", to=to))
            except Exception as exc:
                outcomes.append(type(exc).__name__)
        return outcomes

    options = {"backend": MockBackend(program), "approval_scope": scope}
    core = codeact_from(tools=[send_email], codeact=None, options=options, framework="X")
    counts = core.plan_to_approve('send_email(to="ann")')
    assert counts is not None
    with core.approved_plan(counts, by="the test"):
        result = await core.execute('send_email(to="ann")')
    assert [c.outcome for c in result.tool_calls] == ["ok", "denied", "denied"]


async def test_a_program_a_tool_starts_runs_under_no_plan_of_its_parent() -> None:
    """The approved plan lived in a context variable that a program started by a tool of the
    approved one inherited: the child's hidden calls took the parent's loop grant."""
    ran: list[str] = []
    holder: list[Any] = []

    @tool(approval_mode="always_require")
    def mail(to: str) -> str:
        """Send mail."""
        ran.append(to)
        return to

    @tool
    async def helper() -> str:
        """Run a helper program."""
        result = await holder[0].execute("call_tool('ma' + 'il', to='evil')")
        return str(result.to_model_text())

    core = codeact_from(tools=[mail, helper], codeact=None, options={}, framework="X")
    holder.append(core)
    code = "for t in ['a', 'b']:\n    mail(to=t)\nhelper()"
    counts = core.plan_to_approve(code)
    assert counts is not None
    with core.approved_plan(counts, by="the test"):
        result = await core.execute(code)
    assert ran == ["a", "b"], result.to_model_text()
