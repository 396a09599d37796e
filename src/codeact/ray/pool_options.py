"""What a `CodeActPool` is given, checked before any actor is asked for: its own options,
the CodeAct options it passes on, the Ray options of its actors, and that all of it can
travel to them (Ray pickles it); and the CPUs of the cluster it runs on."""

from __future__ import annotations

import inspect
import socket
from collections.abc import Callable, Mapping
from typing import Any

import ray

from .. import CodeAct, ConfigurationError, Limits
from .worker import WorkerConfig

__all__ = [
    "DEFAULT_ACTOR_OPTIONS",
    "actor_ray_options",
    "cause",
    "check_options",
    "check_reachable",
    "check_shippable",
    "cluster_cpus",
]

#: CodeAct options that hold this process's objects and cannot travel to an actor.
_DRIVER_ONLY = {
    "tracer_provider": (
        "a tracer provider cannot travel to the actors; set the OpenTelemetry providers in "
        "each worker process instead (actor_options={'runtime_env': "
        "{'worker_process_setup_hook': 'myapp.telemetry:setup'}}): codeact uses the global "
        "ones there"
    ),
}
_DRIVER_ONLY["meter_provider"] = _DRIVER_ONLY["tracer_provider"].replace("tracer", "meter")

#: What a pool passes on to each actor's CodeAct (the others are the pool's own).
_CODEACT_OPTIONS = frozenset(inspect.signature(CodeAct).parameters) - {
    "tools",
    "limits",
    "approval_handler",
    "audit",
    *_DRIVER_ONLY,
}

#: Options every actor gets unless `actor_options` says otherwise: one CPU each (an actor
#: running sandboxes keeps a core busy), spread over the nodes.
DEFAULT_ACTOR_OPTIONS: dict[str, Any] = {"num_cpus": 1, "scheduling_strategy": "SPREAD"}


def check_options(
    *,
    max_concurrency: int,
    retries: int,
    max_in_flight: int | None,
    limits: Limits | None,
    approval_handler: Callable[..., Any] | None,
    audit: Callable[..., Any] | None,
    codeact_options: Mapping[str, Any],
) -> None:
    """Refuse a pool's option of the wrong type or range, or a CodeAct option it cannot pass
    on (one that holds this process's objects, or one CodeAct does not take)."""
    for name, value in (("max_concurrency", max_concurrency), ("retries", retries)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigurationError(f"{name} must be an int >= 0, got {value!r}")
    if max_concurrency < 1:
        raise ConfigurationError("max_concurrency must be at least 1")
    if limits is not None and not isinstance(limits, Limits):
        raise ConfigurationError(f"limits must be a codeact.Limits, got {limits!r}")
    if approval_handler is not None and not callable(approval_handler):
        raise ConfigurationError("approval_handler must be an async callable (request)")
    if audit is not None and not callable(audit):
        raise ConfigurationError("audit must be a callable (record) -> None")
    if max_in_flight is not None and (
        isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1
    ):
        raise ConfigurationError(f"max_in_flight must be an int >= 1, got {max_in_flight!r}")
    for name, why in _DRIVER_ONLY.items():
        if name in codeact_options:
            raise ConfigurationError(f"CodeActPool takes no {name}=: {why}")
    unknown = sorted(set(codeact_options) - _CODEACT_OPTIONS)
    if unknown:
        raise ConfigurationError(
            f"CodeActPool got unknown option(s) {', '.join(unknown)}; it takes its own "
            f"options and those of CodeAct: {', '.join(sorted(_CODEACT_OPTIONS))}"
        )
    if not isinstance(codeact_options.get("backend", "auto"), str):
        raise ConfigurationError("a pool's backend is a name ('auto', 'wasm', 'jail')")


def actor_ray_options(
    given: Mapping[str, Any] | None, num_actors: int, max_concurrency: int
) -> dict[str, Any]:
    """The Ray options of each of `num_actors` actors: `given` over the defaults. Refused when
    the actors' default share of one CPU each is more than the cluster has."""
    options = {**DEFAULT_ACTOR_OPTIONS, **dict(given or {})}
    total = cluster_cpus()
    if "num_cpus" not in (given or {}) and total and num_actors > total:
        raise ConfigurationError(
            f"{num_actors} actors of one CPU each need {num_actors} CPUs; the Ray cluster "
            f"has {total:g}: pass num_actors={int(total)}, or choose each actor's share "
            "with actor_options={'num_cpus': ...}"
        )
    # Room beyond the executions for the approval relay's long poll and its answers.
    options["max_concurrency"] = max_concurrency + 2
    options.setdefault("max_restarts", 0)  # the pool replaces actors itself, visibly
    return options


#: Seconds to wait for a HOST:PORT cluster to accept a connection (Ray itself retries for
#: minutes, printing a timeout each time, before it gives up).
REACH_TIMEOUT = 5.0


def check_reachable(address: str | None, timeout: float = REACH_TIMEOUT) -> None:
    """Refuse, in one line, a ``HOST:PORT`` address where nothing accepts a connection.
    None, ``auto``, ``local`` and ``ray://...`` are Ray's to resolve (they are left alone)."""
    if not address or "://" in address:
        return
    host, sep, port = address.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        return
    host = host.removeprefix("[").removesuffix("]")  # [::1]:6379
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except (OSError, ValueError, OverflowError) as exc:
        if isinstance(exc, TimeoutError):
            reason = "timed out"
        else:
            reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
        raise ConfigurationError(
            f"could not join the Ray cluster at {address!r}: it cannot be reached ({reason}); "
            "check the address, or start the cluster with `ray start --head`"
        ) from None


def cluster_cpus(*, free: bool = False) -> float:
    """The CPUs of the connected Ray cluster (or those not taken now, with `free`)."""
    resources = ray.available_resources() if free else ray.cluster_resources()  # type: ignore[no-untyped-call]
    return float(resources.get("CPU", 0))


def check_shippable(config: WorkerConfig) -> None:
    """Refuse, naming it, a tool or option that Ray cannot pickle to the actors (a function
    closing over a lock, a client or an open file), before any actor is asked for."""
    from ray import cloudpickle

    try:
        cloudpickle.dumps(config)
    except Exception:
        pass
    else:
        return
    for entry in config.tools:
        try:
            cloudpickle.dumps(entry)
        except Exception as exc:
            name = getattr(entry, "name", None) or getattr(entry, "__name__", None) or entry
            raise ConfigurationError(
                f"tool {name!r} cannot be sent to the actors (Ray cannot pickle it: "
                f"{cause(exc)}); define it in a module the workers can import and pass "
                "'package.module:attr', so each worker builds its own (clients and locks "
                "included)"
            ) from None
    for option, value in config.codeact_options.items():
        try:
            cloudpickle.dumps(value)
        except Exception as exc:
            raise ConfigurationError(
                f"option {option}= cannot be sent to the actors (Ray cannot pickle it: "
                f"{cause(exc)}); pass a value without locks, clients or open files, or "
                "build it in a module the workers import (a 'package.module:attr' tool)"
            ) from None
    cloudpickle.dumps(config)  # not one part alone: Ray's own error, whole


def cause(exc: BaseException) -> str:
    """The last line of what Ray says about `exc` (its own traceback comes before)."""
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__
