"""`--ray [ADDRESS]` of `codeact bench sandbox` and `codeact bench order-totals`.

Without an address a new Ray starts on this machine for the command; with one it joins that
cluster (``auto`` for a cluster started here with ``ray start --head``, ``ray://HOST:10001``
or ``HOST:6379``). A Ray that this command started is shut down when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .._extras import install_hint
from ..errors import UserError

if TYPE_CHECKING:
    from ..bench.order_totals import RunRecord, Wiring

__all__ = ["order_totals_on_ray", "ray_option", "sandbox_on_ray"]

F = TypeVar("F", bound=Callable[..., Any])

#: Environment variables that tell a chat client its endpoint (forwarded to Ray workers).
_ENDPOINT_PREFIXES = ("OPENAI_", "AZURE_OPENAI_", "CODEACT_")


def ray_option(help_text: str) -> Callable[[F], F]:
    return click.option(
        "--ray",
        "ray_address",
        is_flag=False,
        flag_value="",
        default=None,
        metavar="[ADDRESS]",
        help=help_text,
    )


@contextlib.contextmanager
def connected(address: str) -> Iterator[None]:
    """Ray, initialized for the command's length (joined, or started here and stopped)."""
    try:
        import ray
    except ImportError:
        raise UserError(f"--ray needs Ray: {install_hint('ray')}") from None
    if ray.is_initialized():
        yield
        return
    kwargs: dict[str, Any] = {"logging_level": logging.WARNING}
    if address:
        from ..ray.pool_options import check_reachable

        check_reachable(address)  # Ray itself retries a dead address for minutes
        kwargs["address"] = address
    else:  # a new Ray on this machine, even when one started by `ray start` runs here
        kwargs.update(address="local", include_dashboard=False)
    try:
        ray.init(**kwargs)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise UserError(f"could not join the Ray cluster at {address!r}: {exc}") from None
    try:
        yield
    finally:
        ray.shutdown()


def sandbox_on_ray(address: str, *, runs: int, backend: str, json_path: Path | None) -> None:
    """Executions/s of the benchmark programs on 1, 2, ... actors and in process."""
    from ..bench.stats import json_file_text, machine_facts, markdown_table

    with connected(address):
        import ray

        from ..ray.bench import HEADERS, bench_ray_sandbox, ray_overhead, table_rows

        resources = ray.cluster_resources()  # type: ignore[no-untyped-call]
        nodes = len([n for n in ray.nodes() if n.get("Alive")])  # type: ignore[no-untyped-call]
        cpus = resources.get("CPU", 0)
        click.echo(f"Ray cluster: {nodes} node(s), {cpus:g} CPUs; backend {backend}", err=True)
        results = asyncio.run(
            bench_ray_sandbox(
                runs=runs,
                backend=backend,
                progress=lambda m: click.echo(f"measuring {m}...", err=True),
            )
        )
    facts = machine_facts()
    click.echo(
        f"\n{facts['cpus']} CPUs here, Ray cluster of {nodes} node(s) and {cpus:g} CPUs, "
        f"load {facts['load_avg_1m']}; {runs} programs per measurement, 4 at a time per "
        "actor (in process: 4 at a time)\n"
    )
    click.echo(markdown_table(HEADERS, table_rows(results)))
    added = ray_overhead(results)
    for name, extra in added.items():
        click.echo(
            f"\nRay adds to one {name} execution: {extra['p50_ms']:+.2f} ms latency (p50), "
            f"{extra['cpu_ms']:+.2f} ms CPU",
            nl=False,
        )
    click.echo()
    if json_path is not None:
        payload = {
            "results": [r.to_dict() for r in results],
            "machine": facts,
            "cluster": {"nodes": nodes, "cpus": cpus, "address": address or "local"},
            "runs": runs,
            "ray_adds": added,
        }
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json_file_text(payload))
        click.echo(f"\nwrote {json_path}", err=True)


def order_totals_on_ray(
    address: str,
    *,
    model: str | None,
    base_url: str | None,
    wirings: tuple[Wiring, ...],
    runs: int,
    max_turns: int,
) -> list[RunRecord]:
    """The benchmark's episodes as Ray tasks, one agent per task."""
    if model == "local" or (model is None and base_url is None and not _endpoint_in_env()):
        raise UserError(
            "--ray needs a model endpoint the workers can reach (--base-url URL --model NAME, "
            "or OPENAI_BASE_URL/OPENAI_API_KEY): the embedded model runs only in this process"
        )
    from ..chat.default import default_client

    # The client is built on each worker, from the same flags and forwarded variables.
    factory = functools.partial(default_client, model=model, base_url=base_url)
    env = {k: v for k, v in os.environ.items() if k.startswith(_ENDPOINT_PREFIXES)}
    total = runs * len(wirings)
    with connected(address):
        from ..ray.episodes import run_episodes

        return run_episodes(
            factory,
            wirings=wirings,
            runs=runs,
            max_turns=max_turns,
            task_options={"runtime_env": {"env_vars": env}} if env else None,
            on_run=lambda i, r: click.echo(
                f"run {i}/{total}: {r.wiring} "
                f"{'correct' if r.correct else ('failed' if r.error else 'wrong')} "
                f"{r.wall_s:.1f}s",
                err=True,
            ),
        )


def _endpoint_in_env() -> bool:
    from ..chat.endpoint import endpoint_configured

    return endpoint_configured(os.environ)
