"""The order-totals benchmark keeps every run: one run's failure, whatever it is, is that run's
record, and the runs after it still run (its CLI help: "counted and shown, not dropped")."""

from __future__ import annotations

from typing import Any

from codeact.bench.order_totals import run_series
from codeact.chat import OpenAIChat
from codeact.testing import ChatRequest, FunctionChat, call

from .conftest import FakeOpenAI, Reply, order_totals_policy, raw


async def test_a_run_whose_reply_is_not_json_is_kept_with_the_runs_around_it(
    fake_openai: FakeOpenAI,
) -> None:
    """Run 2's only reply is a body that is not JSON: runs 1 and 3 are answered well, and all
    three are records (before, the whole series ended with a JSONDecodeError, run 1 lost)."""
    runs = 0

    def policy(body: dict[str, Any]) -> Reply:
        nonlocal runs
        if [m["role"] for m in body["messages"]] == ["system", "user"]:
            runs += 1  # a new run's first request
        return raw(b"{not json") if runs == 2 else order_totals_policy(body)

    fake_openai.policy = policy
    chat = OpenAIChat(base_url=fake_openai.url, model="m", env={}, max_retries=0)
    records = await run_series(chat, wirings=("direct",), runs=3)
    await chat.aclose()
    assert [r.correct for r in records] == [True, False, True]
    assert records[1].error is not None and "\n" not in records[1].error
    assert records[0].error is None and records[2].error is None


async def test_any_exception_of_a_run_is_its_error_not_the_end_of_the_series() -> None:
    """A client (or anything in a run) that raises what no one expected: that run is a
    failed record saying so, in one line."""
    runs = 0

    def reply(request: ChatRequest) -> Any:
        nonlocal runs
        if len(request.messages) == 2:
            runs += 1
        if runs == 1:
            raise RuntimeError("a bug\nin the client")
        return call("list_users") if len(request.messages) == 2 else "no totals"

    records = await run_series(FunctionChat(reply), wirings=("direct",), runs=2, max_turns=3)
    assert len(records) == 2 and not any(r.correct for r in records)
    assert records[0].error == "internal error: RuntimeError: a bug in the client"
    assert records[1].error is None and records[1].model_turns >= 2
