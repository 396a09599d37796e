"""The parts of `codeact.ray` that need no cluster: tool specs, results, the bench table,
the CLI's refusals. The pool itself is tested on a real cluster in
tests/integrations/test_ray_pool.py."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")

from click.testing import CliRunner

from codeact import ConfigurationError, ExecutionResult, Tool
from codeact.cli import main
from codeact.ray.bench import ThroughputResult, actor_counts, ray_overhead, table_rows
from codeact.ray.tools import check_tools, resolve_tools


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def test_import_codeact_and_its_cli_do_not_import_ray() -> None:
    code = "import sys, codeact, codeact.cli; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_functions_become_tools_on_the_driver_and_references_stay_names() -> None:
    checked = check_tools([add, "codeact.workloads.order_totals:TOOLS"])
    assert isinstance(checked[0], Tool) and checked[0].name == "add"
    assert checked[1] == "codeact.workloads.order_totals:TOOLS"
    resolved = resolve_tools(checked)
    assert [getattr(t, "name", None) for t in resolved] == [
        "add",
        "list_users",
        "get_orders_for_user",
        "get_discount_rate",
        "get_tax_rate",
        "compute_line_total",
    ]


@pytest.mark.parametrize(
    ("tools", "message"),
    [
        (["not a reference"], "is not 'package.module:attr'"),
        ([42], "got int"),
    ],
)
def test_bad_tool_specs_are_refused_on_the_driver(tools: list[object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        check_tools(tools)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("no_such_module_xyz:tools", "cannot be imported on this worker"),
        ("codeact.workloads.order_totals:NOPE", "has no attribute 'NOPE'"),
        ("codeact.workloads.order_totals:TASK", "names a str"),
    ],
)
def test_references_that_do_not_resolve_say_why(reference: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        resolve_tools([reference])


def test_worker_lost_is_a_failed_result_the_model_can_read() -> None:
    result = ExecutionResult.worker_lost("the worker running this program was lost", {})
    assert not result.ok and result.error is not None and result.error.type == "WorkerLost"
    assert "WorkerLost: the worker running this program was lost" in result.to_model_text()
    assert result.to_dict()["error"]["type"] == "WorkerLost"


def test_bench_table_gives_scaling_ratio_and_ray_overhead() -> None:
    results = [
        ThroughputResult("print(1)", "in-process", 0, 500.0, 1.5, 2.0, 2.0, 100),
        ThroughputResult("print(1)", "ray", 1, 400.0, 2.5, 2.75, 0.5, 100),
        ThroughputResult("print(1)", "ray", 2, 700.0, 2.6, 2.5, 0.4, 100),
    ]
    assert table_rows(results) == [
        ["print(1)", "in-process", 500.0, None, 1.5, 2.0, None, 1.0],
        ["print(1)", "1 actor", 400.0, 1.0, 2.5, 2.75, 0.5, 1.1],
        ["print(1)", "2 actors", 700.0, 1.75, 2.6, 2.5, 0.4, 1.75],
    ]
    assert ray_overhead(results) == {"print(1)": {"p50_ms": 1.0, "cpu_ms": 0.75}}
    assert actor_counts(2) == [1, 2] and actor_counts(16) == [1, 2, 4, 8, 16]


def test_order_totals_on_ray_refuses_the_embedded_model() -> None:
    out = CliRunner().invoke(main, ["bench", "order-totals", "--ray", "--model", "local"])
    assert out.exit_code == 2
    assert "--ray needs a model endpoint the workers can reach" in out.output


def test_sandbox_on_ray_measures_one_backend() -> None:
    out = CliRunner().invoke(main, ["bench", "sandbox", "--ray", "--backend", "all"])
    assert out.exit_code == 2 and "--ray measures one backend" in out.output


def test_pool_options_are_checked_before_ray_starts() -> None:
    from codeact.ray import CodeActPool

    with pytest.raises(ConfigurationError, match="unknown option"):
        CodeActPool(tools=[add], limit=3)
    with pytest.raises(ConfigurationError, match="max_in_flight must be an int >= 1"):
        CodeActPool(tools=[add], max_in_flight=0)
    with pytest.raises(ConfigurationError, match="retries must be an int >= 0"):
        CodeActPool(tools=[add], retries=-1)


async def test_the_relay_asks_a_plain_handler_off_the_drivers_loop() -> None:
    # It called the handler on the driver's event loop: a handler that waited 3 s stalled
    # every task of the driver for 3 s.
    import threading

    from codeact import ApprovalRequest
    from codeact.ray.relay import _answer

    seen: list[object] = []
    answers: list[tuple[int, object, object]] = []

    def handler(request: ApprovalRequest) -> bool:
        seen.append(threading.current_thread())
        return True

    class Remote:
        async def remote(self, ident: int, approval: object, failure: object) -> None:
            answers.append((ident, approval, failure))

    class Handle:
        answer = Remote()

    await _answer(Handle(), handler, 7, ApprovalRequest(kind="call", tool="t", arguments={}))
    assert seen and seen[0] is not threading.main_thread()
    assert answers and answers[0][0] == 7 and getattr(answers[0][1], "approved", None) is True
