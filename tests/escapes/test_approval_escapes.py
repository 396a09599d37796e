"""Approvals a program tries to get around: a gated call hidden from the plan scan (reached
through the runner module, frames, code run from text), a block prompt whose terminal
escapes would hide a line from the person approving it, and a program that keeps asking
(approvals are capped in number and total wait per program, issue 11's finding 14). On
every backend."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from typing import Any

import pytest

from codeact import CodeAct, Limits, tool
from codeact.calls.approval_handlers import InteractiveApprover
from codeact.calls.approvals import Approval, ApprovalRequest
from codeact.calls.scan import scan_tool_calls

SENT: list[str] = []


@tool(approval_mode="always_require")
def send_email(to: str) -> str:
    """Sends an email (gated)."""
    SENT.append(to)
    return f"sent to {to}"


# Each reaches send_email without naming it where the scan looks for tool calls.
HIDDEN_CALLS = {
    "runner_module_attribute": (
        "import codeact_runner\ncodeact_runner.call_tool('send_email', to='evil@x.y')"
    ),
    "runner_from_sys_modules": (
        "import sys\nsys.modules['codeact_runner'].call_tool('send_email', to='evil@x.y')"
    ),
    "frame_globals": (
        "import sys\nsys._getframe().f_globals['call_tool']('send_email', to='evil@x.y')"
    ),
    "exec_of_text": 'exec("send_" + "email(to=\'evil@x.y\')")',
    "globals_by_name": "globals()['call_' + 'tool']('send_email', to='evil@x.y')",
    "getattr_by_name": (
        "import sys\n"
        "getattr(sys.modules['codeact_runner'], 'call_' + 'tool')('send_email', to='evil@x.y')"
    ),
    "dunder_import": ("__import__('codeact_runner').call_tool('send_email', to='evil@x.y')"),
    "importlib": (
        "import importlib\n"
        "importlib.import_module('codeact_runner').call_tool('send_email', to='evil@x.y')"
    ),
    "tools_module_attribute": (
        "import codeact_tools\ncodeact_tools.call_tool('send_email', to='evil@x.y')"
    ),
    "host_glue_dispatch": (
        "import codeact_host, json\n"
        "ok, out = codeact_host.HOST.dispatch('send_email', json.dumps({'to': 'evil@x.y'}))\n"
        "if not ok and 'denied' in out:\n    raise ToolDenied(out)"
    ),
    "eval_alias": "run = eval\nrun(\"call_tool('send_email', to='evil@x.y')\")",
    # A plain module's attribute that is another module, and text evaluated as an annotation.
    "os_sys_modules": ("import os\nos.sys.modules['builtins'].eval(\"send_email(to='evil@x.y')\")"),
    "re_enum_builtins_alias": "import re\nre.enum.bltns.eval(\"send_email(to='evil@x.y')\")",
    "dataclasses_inspect": (
        "import dataclasses\n"
        "dataclasses.inspect.currentframe().f_globals['send_email'](to='evil@x.y')"
    ),
    # Class patterns read the attributes __match_args__ names: strings, built at run time.
    "match_args_by_string": (
        "class AnyObject(type):\n    def __instancecheck__(cls, obj):\n        return True\n"
        "class G(metaclass=AnyObject):\n    __match_args__ = ('__in' + 'it__',)\n"
        "class H(metaclass=AnyObject):\n    __match_args__ = ('__glo' + 'bals__',)\n"
        "match ToolError:\n    case G(init):\n        pass\n"
        "match init:\n    case H(g):\n        pass\n"
        "g['__builtins__']['ev' + 'al'](\"send_email(to='evil@x.y')\")"
    ),
    # Data a plain module's function turns into names: dataclasses execs its field names in
    # __main__; functools.wraps copies a module's namespace (os's holds sys) and update_wrapper
    # the attributes its `updated` names (a function's __globals__).
    "dataclasses_field_names": (
        "import dataclasses\nG = [1]\n"
        "N = \"a or (G and G.pop() and send_email(to='evil@x.y'))\"\n"
        "X = dataclasses.dataclass(init=False, repr=False)("
        "type('X', (), {'__annotations__': {N: int}, '__doc__': 'x', 'a': 0}))\n"
        "X() == X()"
    ),
    "functools_wraps_module": (
        "import functools, os\ndef grab(obj):\n    d = {}\n    class W:\n"
        "        def __getattribute__(self, name):\n            return d\n"
        "    functools.wraps(obj)(W())\n    return d\n"
        "grab(grab(grab(os)['sys'])['modules']['__main__'])['send_email'](to='evil@x.y')"
    ),
    "update_wrapper_globals": (
        "import functools\nD = {}\nclass W:\n    __globals__ = D\ndef f(): pass\n"
        "functools.update_wrapper(W(), f, assigned=(), updated=('__globals__',))\n"
        "D['send_email'](to='evil@x.y')"
    ),
    "string_annotation": (
        "import typing\ndef f(x: \"send_email(to='evil@x.y')\"): pass\ntyping.get_type_hints(f)"
    ),
}


@pytest.mark.parametrize("hidden", HIDDEN_CALLS.values(), ids=HIDDEN_CALLS.keys())
def test_the_scan_never_calls_a_plan_with_a_hidden_call_complete(hidden: str) -> None:
    code = f"{hidden}\nsend_email(to='ok@x.y')\n"
    plan = scan_tool_calls(code, ["send_email"], gated=["send_email"])
    assert plan.dynamic and not plan.complete, plan


@pytest.mark.parametrize("hidden", HIDDEN_CALLS.values(), ids=HIDDEN_CALLS.keys())
async def test_a_hidden_call_is_never_preapproved_by_the_plan(
    make_codeact: Callable[..., Any], hidden: str
) -> None:
    """A handler that approves exactly the plan: the hidden call must be asked (and is
    denied here), never run as "preapproved" on the listed call's grant."""
    asked: list[ApprovalRequest] = []

    async def approve_the_plan_only(request: ApprovalRequest) -> Approval:
        asked.append(request)
        if request.kind == "block":
            return Approval.approve("the plan looks fine")
        return Approval.deny("not in the plan")

    codeact = make_codeact(
        tools=[send_email], approval_handler=approve_the_plan_only, approval_scope="plan"
    )
    body = "\n".join("    " + line for line in hidden.splitlines())
    code = (
        f"try:\n{body}\nexcept ToolDenied:\n    print('hidden call denied')\n"
        "try:\n    send_email(to='ok@x.y')\nexcept ToolDenied:\n    print('listed call denied')\n"
    )
    before = len(SENT)
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert "evil@x.y" not in SENT[before:]
    assert all(c.decision != "preapproved" for c in result.tool_calls), result.tool_calls
    assert "hidden call denied" in result.stdout


async def test_the_block_prompt_shows_terminal_escapes_instead_of_obeying_them(
    make_codeact: Callable[..., Any],
) -> None:
    # Cursor up + erase line: on a terminal, the line that calls the gated tool would be
    # overwritten by the harmless-looking one after it.
    code = (
        "send_email(to='evil@x.y'); note = '\x1b[1A\x1b[2K\u2028\x0c'  # \u202e\x07\n"
        "print('just a harmless report')\n"
    )
    shown = io.StringIO()
    approver = InteractiveApprover(input=io.StringIO("n\n"), output=shown)
    codeact = make_codeact(
        tools=[send_email], approval_handler=approver, approval_mode="always_require"
    )
    result = await codeact.execute(code)
    assert not result.ok  # denied: nothing ran
    prompt = shown.getvalue()
    assert "send_email(to='evil@x.y')" in prompt
    for raw in ("\x1b", "\x07", "\u202e", "\u2028", "\x0c"):
        assert raw not in prompt, f"{raw!r} reached the terminal"
    assert "\\x1b[1A" in prompt and "\\u202e" in prompt
    assert "the code does not parse" not in prompt


async def test_a_call_prompt_escapes_its_arguments(make_codeact: Callable[..., Any]) -> None:
    shown = io.StringIO()
    approver = InteractiveApprover(input=io.StringIO("n\n"), output=shown)
    codeact = make_codeact(tools=[send_email], approval_handler=approver)
    code = "try:\n    send_email(to='a@x.y\\r\\x1b[2Kb@x.y\\u202e')\nexcept ToolDenied:\n    pass"
    result = await codeact.execute(code)
    assert result.ok, result.error
    prompt = shown.getvalue()
    assert "send_email" in prompt
    assert not any(raw in prompt for raw in ("\x1b", "\r", "\u202e"))


# Walks every plain module's public attributes (those not in REACHING_NAMES), following
# modules and classes: each module reached must be plain, and no builtin that looks objects
# up by a string may be reached. Run in the sandbox's own Python (3.14 on wasm) and the host's.
WALK = """
import builtins, importlib, json, types
PLAIN, PACKAGES, REACHING, OPAQUE = json.loads(@LISTS@)
opaque = {id(getattr(builtins, n)) for n in OPAQUE if hasattr(builtins, n)}
def plain(name):
    parts = name.split(".")
    return name in PLAIN or name in ("posixpath", "ntpath", "genericpath") or (
        parts[0] in PACKAGES and not any(p.startswith("_") for p in parts))
found, seen, missing = [], set(), []
for start in sorted(PLAIN):
    try:
        module = importlib.import_module(start)
    except ImportError:
        missing.append(start)
        continue
    stack = [(module, start, 0)]
    while stack:
        obj, path, depth = stack.pop()
        if id(obj) in seen or depth > 4:
            continue
        seen.add(id(obj))
        for attr in dir(obj):
            if attr.startswith("_") or attr in REACHING:
                continue
            try:
                value = getattr(obj, attr)
            except Exception:
                continue
            where = path + "." + attr
            if id(value) in opaque:
                found.append(where + " is a lookup builtin")
            elif isinstance(value, types.ModuleType):
                if plain(value.__name__):
                    stack.append((value, where, depth + 1))
                else:
                    found.append(where + " is the module " + value.__name__)
            elif isinstance(value, type) and depth < 2:
                stack.append((value, where, depth + 1))
print(json.dumps({"found": found, "missing": missing}))
"""


def _walk_program() -> str:
    import json

    from codeact.calls.scan_reach import (
        OPAQUE_BUILTINS,
        PLAIN_MODULES,
        PLAIN_PACKAGES,
        REACHING_NAMES,
    )

    lists = [sorted(PLAIN_MODULES), sorted(PLAIN_PACKAGES), sorted(REACHING_NAMES)]
    lists.append(sorted(OPAQUE_BUILTINS))
    return WALK.replace("@LISTS@", repr(json.dumps(lists)))


async def test_a_plain_module_leads_to_no_other_module_in_the_sandbox(
    make_codeact: Callable[..., Any],
) -> None:
    """Importing only plain modules keeps a plan complete; so no attribute path from one may
    lead to sys, builtins, inspect... in the Python that runs the program."""
    import json

    result = await make_codeact(limits=None).execute(_walk_program())
    assert result.ok, result.error
    report = json.loads(result.stdout)
    assert report["found"] == []
    assert len(report["missing"]) < 5, report["missing"]


def test_a_plain_module_leads_to_no_other_module_on_the_host() -> None:
    import contextlib
    import json

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(_walk_program(), {})
    assert json.loads(out.getvalue())["found"] == []


async def test_a_function_an_earlier_session_call_defined_gets_no_grant(
    make_codeact: Callable[..., Any],
) -> None:
    """In a session, the code of earlier calls runs in later ones (a function defined before,
    a value's __setstate__) where the plan scan of the later call cannot see it: its gated
    calls must be asked, never run on the grant of a call the later code shows."""

    async def approve_the_plan_only(request: ApprovalRequest) -> Approval:
        if request.kind == "block":
            return Approval.approve("the plan looks fine")
        return Approval.deny("not in the plan")

    codeact = make_codeact(
        tools=[send_email], approval_handler=approve_the_plan_only, approval_scope="plan"
    )
    session = codeact.session()
    first = await session.execute("def notify():\n    send_email(to='evil@x.y')\n")
    assert first.ok, first.error
    before = len(SENT)
    second = await session.execute(
        "try:\n    notify()\nexcept ToolDenied:\n    print('hidden call denied')\n"
        "try:\n    send_email(to='ok@x.y')\nexcept ToolDenied:\n    print('listed call denied')\n"
    )
    assert second.ok, second.error
    assert "evil@x.y" not in SENT[before:]
    assert all(c.decision != "preapproved" for c in second.tool_calls), second.tool_calls
    assert "hidden call denied" in second.stdout


# -- approvals are capped per program (issue 11, finding 14) ------------------------------------
# The limits of test_host_boundary_escapes.py, where these tests began.
LIMITS = Limits(
    wall_time=10,
    memory_mb=128,
    output_bytes=64 * 1024,
    tool_argument_bytes=1024 * 1024,
    tool_result_bytes=1024 * 1024,
)


@tool(approval_mode="always_require")
def send(to: str) -> str:
    """Sends a message (needs approval)."""
    return f"sent to {to}"


async def test_a_program_that_keeps_asking_for_approval_is_stopped(
    backend_name: str, make_codeact: Callable[..., CodeAct]
) -> None:
    asked: list[str] = []

    async def deny(request: ApprovalRequest) -> Approval:
        asked.append(request.tool or "")
        await asyncio.sleep(0.01)
        return Approval(False, "no")

    codeact = make_codeact(tools=[send], approval_handler=deny, limits=LIMITS.replace(wall_time=1))
    code = (
        "n = 0\nfor i in range(150):\n    try:\n        call_tool('send', to='x')\n"
        "    except ToolDenied:\n        n += 1\nn"
    )
    result = await codeact.execute(code)
    assert not result.ok and result.error is not None
    assert result.error.limit == "approvals", result.error
    assert "Limits.approval_denials" in result.error.message
    assert len(asked) == LIMITS.approval_denials


async def test_the_total_wait_for_approvals_is_capped(
    backend_name: str, make_codeact: Callable[..., CodeAct]
) -> None:
    async def slow(request: ApprovalRequest) -> bool:
        await asyncio.sleep(0.4)
        return False

    codeact = make_codeact(
        tools=[send], approval_handler=slow, limits=LIMITS.replace(wall_time=1, approval_wait=1)
    )
    code = (
        "for i in range(50):\n    try:\n        call_tool('send', to='x')\n"
        "    except ToolDenied:\n        pass"
    )
    started = time.monotonic()
    result = await codeact.execute(code)
    assert time.monotonic() - started < 4
    assert not result.ok and result.error is not None
    assert result.error.limit == "approvals", result.error


async def test_approved_requests_do_not_count_against_the_denial_cap(
    backend_name: str, make_codeact: Callable[..., CodeAct]
) -> None:
    codeact = make_codeact(tools=[send], approval_handler=lambda request: True, limits=LIMITS)
    result = await codeact.execute(
        "n = 0\nfor i in range(30):\n    call_tool('send', to='x')\n    n += 1\nn"
    )
    assert result.ok and result.value == 30, result.error
