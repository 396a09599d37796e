"""`CodeActPool`: programs run on Ray actors that each hold a warm CodeAct.

Ray does the work: it places the actors (spread over the nodes by default), ships the
tools, runs each actor's executions concurrently up to ``max_concurrency``, and tells us
when an actor dies. The pool only picks the least-loaded actor for each program, keeps
`map`'s order with a bounded window of programs in flight, relays gated calls to the
caller's approval handler, and replaces an actor that died (the places, their balancing
and the replacements are in `codeact.ray.balancing`; the checks of the pool's options, before
any actor is asked for, in `codeact.ray.pool_options`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

import ray
from ray.exceptions import (
    GetTimeoutError,
    NodeDiedError,
    ObjectLostError,
    OwnerDiedError,
    RayActorError,
    RayTaskError,
    WorkerCrashedError,
)

from .. import (
    ApprovalRequest,
    ConfigurationError,
    ExecutionError,
    ExecutionResult,
    Limits,
    ToolCallRecord,
    UserError,
)
from .._checks import instance_or_none
from ..runtime.result import complete_timings
from .balancing import Balancing, Slot
from .pool_options import (
    actor_ray_options,
    cause,
    check_options,
    check_reachable,
    check_shippable,
    cluster_cpus,
)
from .relay import handler_name
from .tools import ToolSpec, check_tools
from .worker import ActorInfo, CodeActWorker, WorkerConfig

__all__ = ["CodeActPool"]

_log = logging.getLogger("codeact.ray")

#: What Ray raises when the process running a call is gone.
_LOST = (RayActorError, NodeDiedError, ObjectLostError, OwnerDiedError, WorkerCrashedError)


class CodeActPool(Balancing):
    """Run programs on `num_actors` Ray actors, each holding a warm CodeAct.

    Example::

        pool = CodeActPool(tools=["myapp.tools:TOOLS"], num_actors=8, limits=Limits(wall_time=10))
        result = await pool.execute("print(1)")         # an ExecutionResult
        results = await pool.map(programs)             # in order, failures included

    Args:
        tools: Functions, `codeact.Tool` objects (shipped by Ray) or ``"module:attr"``
            references (imported on each worker); see `codeact.ray.tools`.
        num_actors: How many actors (default: one per CPU of the cluster).
        max_concurrency: Programs one actor runs at the same time.
        max_in_flight: Programs `map` keeps submitted at once (default: twice the pool's
            capacity); the rest wait in the caller's iterator.
        retries: How often a program whose worker was lost is run again on another actor.
            0 (default): never, since its tools may have had side effects already.
        approval_handler: The caller's handler for gated calls; it runs in this process
            (the driver), however far away the program runs.
        audit: Called here with every record of every result (the block approval and each
            tool call), after the result comes back.
        actor_options: Ray options for the actors (``num_cpus``, ``resources``,
            ``runtime_env``, ``scheduling_strategy``...); default one CPU each, spread.
        address: Passed to ``ray.init`` when Ray is not initialized yet.
        start_timeout: Seconds `start` waits for the actors before it raises.
        codeact_options: The rest (``limits``, ``backend``, ``file_mounts``,
            ``allowed_domains``, ``middleware``, ``redact``, ``approval_mode``...) go to each
            actor's `codeact.CodeAct`, on its worker.
    """

    def __init__(
        self,
        *,
        tools: Iterable[ToolSpec] = (),
        num_actors: int | None = None,
        max_concurrency: int = 4,
        max_in_flight: int | None = None,
        retries: int = 0,
        limits: Limits | None = None,
        approval_handler: Callable[[ApprovalRequest], Any] | None = None,
        audit: Callable[[ToolCallRecord], None] | None = None,
        actor_options: Mapping[str, Any] | None = None,
        address: str | None = None,
        start_timeout: float = 120.0,
        **codeact_options: Any,
    ) -> None:
        check_options(
            max_concurrency=max_concurrency,
            retries=retries,
            max_in_flight=max_in_flight,
            limits=limits,
            approval_handler=approval_handler,
            audit=audit,
            codeact_options=codeact_options,
        )
        if not ray.is_initialized():
            check_reachable(address)
            try:
                ray.init(address=address, logging_level=logging.WARNING)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ConfigurationError(
                    f"Ray could not start or join {address or 'a local cluster'!r}: {exc}"
                ) from None
        if num_actors is None:
            num_actors = max(1, int(cluster_cpus()))
        if isinstance(num_actors, bool) or not isinstance(num_actors, int) or num_actors < 1:
            raise ConfigurationError(f"num_actors must be an int >= 1, got {num_actors!r}")
        self.num_actors = num_actors
        self.max_concurrency = max_concurrency
        self.max_in_flight = max_in_flight or 2 * num_actors * max_concurrency
        self.retries = retries
        self.limits = limits
        self.approval_handler = approval_handler
        self.audit = audit
        self.start_timeout = start_timeout
        self.workers_lost = 0  #: actors that died while serving programs
        #: Seconds `close` waits for the actors to remove their sandboxes' folders.
        self.close_timeout = 10.0
        options = actor_ray_options(actor_options, num_actors, max_concurrency)
        self._actor_class = ray.remote(CodeActWorker).options(**options)
        self._config = WorkerConfig(
            tools=tuple(check_tools(tools)),
            codeact_options={**codeact_options, "limits": limits},
            relay_approvals=approval_handler is not None,
            approver_name=handler_name(approval_handler),
        )
        check_shippable(self._config)
        self._slots = [Slot(i, self._actor_class.remote(self._config)) for i in range(num_actors)]
        self._turn = 0
        self._waiters: deque[asyncio.Future[None]] = deque()  # callers waiting for room
        self._background: set[asyncio.Future[None]] = set()
        self._started = False
        self._starting: asyncio.Future[list[ActorInfo]] | None = None
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> list[ActorInfo]:
        """Wait until every actor is up (its CodeAct built and warm); where they run.

        Raises `ConfigurationError` when an actor cannot start (a tool that does not
        import, bad options) or the cluster cannot place them within `start_timeout`.
        """
        self._check_open()
        refs = [slot.handle.info.remote() for slot in self._slots]
        try:
            infos: list[ActorInfo] = await asyncio.wait_for(
                asyncio.gather(*refs), self.start_timeout
            )
        except (asyncio.TimeoutError, GetTimeoutError):
            free = cluster_cpus(free=True)
            await self.aclose()
            raise ConfigurationError(
                f"the pool's {self.num_actors} actors did not start within "
                f"{self.start_timeout:g}s ({free:g} CPUs free in the cluster): ask for fewer "
                "actors or a smaller num_cpus in actor_options"
            ) from None
        except RayActorError as exc:
            await self.aclose()
            raise ConfigurationError(f"a pool actor could not start: {cause(exc)}") from None
        if not self._started:
            self._started = True
            for slot, info in zip(self._slots, infos, strict=True):
                slot.ready = True
                slot.pid, slot.node_id = info.pid, info.node_id
                self._start_relay(slot)
        return infos

    async def actors(self) -> list[ActorInfo]:
        """Where each actor runs now (process, host, Ray node); a place given up (its
        replacements failed to start) has none."""
        await self._ensure_started()
        return list(await asyncio.gather(*(s.handle.info.remote() for s in self._serving())))

    @property
    def actor_handles(self) -> list[Any]:
        """The Ray actor handles now in the pool, in the order of `actors()` (for Ray's own
        tools: the state API, ``ray.kill``)."""
        return [slot.handle for slot in self._serving()]

    def _serving(self) -> list[Slot]:
        return [slot for slot in self._slots if slot.given_up is None]

    def close(self) -> None:
        """Stop the actors, each after it stopped its sandboxes and removed their folders
        (waiting up to `close_timeout` seconds for that). Ray itself stays up
        (`ray.shutdown()` is yours to call). In a coroutine, `await pool.aclose()` does the
        same without blocking the event loop."""
        asked = self._ask_to_close()
        if asked:
            with contextlib.suppress(Exception):
                ray.wait(asked, num_returns=len(asked), timeout=self.close_timeout)
        self._kill_all()

    async def aclose(self) -> None:
        """`close`, awaiting the actors' clean-up (leaving ``async with`` calls it)."""
        asked = self._ask_to_close()
        if asked:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    asyncio.gather(*asked, return_exceptions=True), self.close_timeout
                )
        self._kill_all()

    def _ask_to_close(self) -> list[Any]:
        """Close the pool to programs and ask each actor that is up to clean up (a kill runs
        none of its exit handlers); the requests, to wait on. Nothing once closed."""
        if self._closed:
            return []
        self._closed = True
        for task in list(self._background):
            task.cancel()
        self._wake(all_of_them=True)  # callers waiting for room learn that it is closed
        asked = []
        for slot in self._slots:
            if slot.ready and slot.given_up is None:
                with contextlib.suppress(Exception):
                    asked.append(slot.handle.close.remote())
        return asked

    def _kill_all(self) -> None:
        for slot in self._slots:
            with contextlib.suppress(Exception):
                ray.kill(slot.handle, no_restart=True)

    async def __aenter__(self) -> CodeActPool:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- running -----------------------------------------------------------------------------
    async def execute(self, code: str, *, limits: Limits | None = None) -> ExecutionResult:
        """Run `code` on the least-loaded actor; what `CodeAct.execute` returns. A program
        whose actor dies gets a result with ``error.type == "WorkerLost"``."""
        if not isinstance(code, str):
            raise UserError(f"code must be a str, got {type(code).__name__}")
        instance_or_none("limits", limits, Limits)
        await self._ensure_started()
        started = time.perf_counter()
        tries = 0
        while True:
            slot = await self._acquire()
            handle, generation = slot.handle, slot.generation
            ref = handle.execute.remote(code, limits)
            try:
                result: ExecutionResult = await ref
            except asyncio.CancelledError:
                ray.cancel(ref)
                raise
            except _LOST as exc:
                self._replace(slot, generation, exc)
                if tries < self.retries:
                    tries += 1
                    continue
                result = ExecutionResult.worker_lost(
                    _lost_message(exc, tries), {"total_ms": _ms_since(started)}
                )
            except RayTaskError as exc:  # the worker failed around the program, not in it
                cause = exc.cause if exc.cause is not None else exc
                result = ExecutionResult(
                    ok=False,
                    error=ExecutionError(type(cause).__name__, f"the worker failed: {cause}"),
                    timings=complete_timings({"total_ms": _ms_since(started)}),
                )
            finally:
                self._release(slot)
            break
        if self.audit is not None:
            for record in result.audit_records():
                try:
                    self.audit(record)
                except Exception:  # as in one process: logged, never a lost result
                    _log.warning("codeact.ray: the audit sink failed", exc_info=True)
        return result

    async def imap(
        self, programs: Iterable[str], *, limits: Limits | None = None
    ) -> AsyncIterator[ExecutionResult]:
        """Results in the order of `programs`, as they are ready; at most `max_in_flight`
        programs are submitted at once, so `programs` may be a long (or lazy) iterable."""
        window: deque[asyncio.Task[ExecutionResult]] = deque()
        source = iter(programs)
        exhausted = False
        try:
            while True:
                while not exhausted and len(window) < self.max_in_flight:
                    try:
                        code = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    window.append(asyncio.ensure_future(self.execute(code, limits=limits)))
                if not window:
                    return
                yield await window.popleft()
        finally:
            for task in window:
                task.cancel()

    async def map(
        self, programs: Iterable[str], *, limits: Limits | None = None
    ) -> list[ExecutionResult]:
        """Run every program; results in order. A failed program is a result, never an
        exception (see `ExecutionResult.ok` and `error`)."""
        return [result async for result in self.imap(programs, limits=limits)]

    # -- starting on first use ---------------------------------------------------------------
    async def _ensure_started(self) -> None:
        if not self._started:
            # The first programs of a `map` arrive together: they share one start.
            if self._starting is None or self._starting.done():
                self._starting = asyncio.ensure_future(self.start())
            await asyncio.shield(self._starting)

    def __repr__(self) -> str:
        return (
            f"CodeActPool(num_actors={self.num_actors}, max_concurrency={self.max_concurrency}, "
            f"retries={self.retries})"
        )


def _lost_message(exc: BaseException, tries: int) -> str:
    if tries:
        again = f"it was run {tries + 1} times and every worker running it was lost"
    else:
        again = (
            "it was not run again (pass retries=N to the pool when its tools are safe to repeat)"
        )
    return (
        f"the worker running this program was lost ({type(exc).__name__}: {cause(exc)}); "
        f"the program may have run in part and its tool calls are unknown; {again}"
    )


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
