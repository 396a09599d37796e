"""The reference's deleted ``codeact_benchmark.py`` sample, run with only its import changed.

The sample (reference_samples/codeact_benchmark.py, recovered from Microsoft Agent Framework's
history: ``python/packages/hyperlight/samples/codeact_benchmark.py``, added in 69894eded,
deleted in f6615a3eb; MIT licence, Copyright (c) Microsoft) runs the same task twice: with the
five tools given to the model directly, and with them behind CodeAct's one ``execute_code`` tool;
both runs ask for structured output (``UserGrandTotals``). Here it runs unchanged but for the
import of the provider, in this process, with its hosted model replaced: ``FoundryChatClient``
and ``AzureCliCredential`` (packages this suite does not install) are stand-ins whose model is
scripted. The scripted model reads what the tools return (it invents no number), and the test
checks the grand totals the sample prints against the sample's own data.
"""

from __future__ import annotations

import json
import runpy
import sys
import types
from pathlib import Path
from typing import Any, ClassVar

import pytest

pytest.importorskip("agent_framework", reason="needs pip install -e '.[agent-framework]'")

from agent_framework import Content, Message

from .af_scripted_client import ScriptedChatClient, last_tool_result, run_code

pytestmark = pytest.mark.usefixtures("wasm_ready")

SAMPLE = Path(__file__).parent / "reference_samples" / "codeact_benchmark.py"
REFERENCE_IMPORT = "from agent_framework_hyperlight import HyperlightCodeActProvider"
CODEACT_IMPORT = (
    "from codeact.integrations.agent_framework import CodeActProvider as HyperlightCodeActProvider"
)

# What the model writes for the CodeAct run: every number comes from a tool.
CODEACT_PROGRAM = """\
import json
results = []
for user in list_users():
    discount = get_discount_rate(tier=user["tier"])
    tax = get_tax_rate(region=user["region"])
    total = 0.0
    for line in get_orders_for_user(user_id=user["id"]):
        total += compute_line_total(
            qty=line["qty"], unit_price=line["unit_price"], discount_rate=discount, tax_rate=tax
        )
    results.append({"user_id": user["id"], "name": user["name"], "grand_total": round(total, 2)})
results.sort(key=lambda row: row["grand_total"], reverse=True)
print(json.dumps({"results": results}))
"""


def _results(messages: list[Message]) -> dict[str, Any]:
    """Every function result the model was sent, by call id, as JSON values."""
    found: dict[str, Any] = {}
    for message in messages:
        for content in message.contents:
            if content.type == "function_result":
                found[str(content.call_id)] = json.loads(str(content.result))
    return found


def _calls(*calls: tuple[str, str, dict[str, Any]]) -> Message:
    return Message(
        role="assistant",
        contents=[Content.from_function_call(call_id=i, name=n, arguments=a) for i, n, a in calls],
    )


def _look_up_each_user(messages: list[Message]) -> Message:
    users = _results(messages)["users"]
    return _calls(
        *[
            call
            for u in users
            for call in (
                (f"orders-{u['id']}", "get_orders_for_user", {"user_id": u["id"]}),
                (f"discount-{u['id']}", "get_discount_rate", {"tier": u["tier"]}),
                (f"tax-{u['id']}", "get_tax_rate", {"region": u["region"]}),
            )
        ]
    )


def _compute_each_line(messages: list[Message]) -> Message:
    got = _results(messages)
    return _calls(
        *[
            (
                f"line-{u['id']}-{i}",
                "compute_line_total",
                {
                    "qty": line["qty"],
                    "unit_price": line["unit_price"],
                    "discount_rate": got[f"discount-{u['id']}"],
                    "tax_rate": got[f"tax-{u['id']}"],
                },
            )
            for u in got["users"]
            for i, line in enumerate(got[f"orders-{u['id']}"])
        ]
    )


def _answer_with_totals(messages: list[Message]) -> Message:
    got = _results(messages)
    rows = [
        {
            "user_id": u["id"],
            "name": u["name"],
            "grand_total": round(
                sum(v for k, v in got.items() if k.startswith(f"line-{u['id']}-")), 2
            ),
        }
        for u in got["users"]
    ]
    rows.sort(key=lambda row: row["grand_total"], reverse=True)
    return Message(role="assistant", contents=[json.dumps({"results": rows})])


def _answer_with_what_the_program_printed(messages: list[Message]) -> Message:
    return Message(role="assistant", contents=[last_tool_result(messages)])


class FoundryChatClient(ScriptedChatClient):
    """Stands in for the sample's hosted model client: a scripted model that, on its first
    request, plays the traditional run (tools called one by one) or the CodeAct run (one
    program), by the tools it was offered."""

    made: ClassVar[list[FoundryChatClient]] = []

    def __init__(self, *, project_endpoint: str, model: str, credential: Any) -> None:
        super().__init__([])
        self.made.append(self)

    async def _reply(self, messages: list[Message], options: dict[str, Any]) -> Any:
        if not self.requests:
            offered = [t.name for t in options.get("tools") or []]
            if offered == ["execute_code"]:
                self.script = [run_code(CODEACT_PROGRAM), _answer_with_what_the_program_printed]
            else:
                self.script = [
                    _calls(("users", "list_users", {})),
                    _look_up_each_user,
                    _compute_each_line,
                    _answer_with_totals,
                ]
        return await super()._reply(messages, options)


def _expected_totals(sample: dict[str, Any]) -> list[tuple[int, str, float]]:
    """The grand totals from the sample's own data and formula."""
    rows = []
    for user in sample["_USERS"]:
        total = sum(
            sample["compute_line_total"](
                line["qty"],
                line["unit_price"],
                sample["_DISCOUNTS"][user["tier"]],
                sample["_TAX_RATES"][user["region"]],
            )
            for line in sample["_ORDERS"][user["id"]]
        )
        rows.append((user["id"], user["name"], round(total, 2)))
    return sorted(rows, key=lambda row: row[2], reverse=True)


def test_the_benchmark_sample_runs_with_only_its_import_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    original = SAMPLE.read_text()
    script = tmp_path / SAMPLE.name
    script.write_text(original.replace(REFERENCE_IMPORT + "\n", CODEACT_IMPORT + "\n"))
    changed = [
        (a, b)
        for a, b in zip(original.splitlines(), script.read_text().splitlines(), strict=True)
        if a != b
    ]
    assert changed == [(REFERENCE_IMPORT, CODEACT_IMPORT)]

    # The hosted model and its credential, which this suite does not install: stand-ins.
    foundry = types.ModuleType("agent_framework.foundry")
    foundry.FoundryChatClient = FoundryChatClient  # type: ignore[attr-defined]
    azure = types.ModuleType("azure")
    identity = types.ModuleType("azure.identity")
    identity.AzureCliCredential = lambda: object()  # type: ignore[attr-defined]
    azure.identity = identity  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "agent_framework.foundry", foundry)
    monkeypatch.setitem(sys.modules, "azure", azure)
    monkeypatch.setitem(sys.modules, "azure.identity", identity)
    monkeypatch.setenv("FOUNDRY_PROJECT_ENDPOINT", "https://example.invalid/project")
    monkeypatch.setenv("FOUNDRY_MODEL", "scripted")
    monkeypatch.chdir(tmp_path)  # the sample's load_dotenv() finds no .env here
    FoundryChatClient.made.clear()

    sample = runpy.run_path(str(script), run_name="__main__")

    out = capsys.readouterr().out
    traditional, codeact = FoundryChatClient.made
    assert [t.name for t in codeact.tools_sent()] == ["execute_code"]
    assert len(codeact.requests) == 2  # one program, then the answer
    assert len(traditional.requests) == 4  # users, lookups, line totals, the answer
    expected = [
        f"  user_id={uid:>2}  name={name:<8}  grand_total={total:>8.2f}"
        for uid, name, total in _expected_totals(sample)
    ]
    sections = out.split("=" * 70)
    titles = [s.strip() for s in sections[1::2]]
    assert titles == [
        "Traditional tool-calling",
        "CodeAct (HyperlightCodeActProvider)",
        "Comparison",
    ]
    for body in (sections[2], sections[4]):
        assert [line for line in body.splitlines() if "grand_total=" in line] == expected
    assert "time   : traditional=" in sections[6] and "tokens : traditional=" in sections[6]
