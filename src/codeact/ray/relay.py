"""The driver's side of approvals on Ray: gated calls parked on the actors, asked here.

Each actor's CodeAct has a relay as its approval handler (`worker._ApprovalRelay`): a gated
call waits there. For each live actor the pool runs `relay_approvals`, a long poll that
collects the waiting requests, asks the caller's handler in this process, and sends each
answer back. A handler that raises is a denial on the worker, with the reason, as in one
process; the worker's approval timeout bounds the wait either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from .. import Approval, ApprovalRequest
from ..calls.approvals import coerce_approval, invoke_handler

__all__ = ["ApprovalHandlerFn", "handler_name", "relay_approvals"]

ApprovalHandlerFn = Callable[[ApprovalRequest], Any]
Spawn = Callable[[Coroutine[Any, Any, None]], Any]

_log = logging.getLogger("codeact.ray")


async def relay_approvals(handle: Any, handler: ApprovalHandlerFn, spawn: Spawn) -> None:
    """Until the actor is gone: ask `handler` about each gated call parked on it."""
    while True:
        try:
            batch = await handle.next_approvals.remote()
        except asyncio.CancelledError:
            raise
        except Exception:  # the actor is gone; its replacement gets its own relay
            return
        for ident, request in batch:
            spawn(_answer(handle, handler, ident, request))


async def _answer(
    handle: Any, handler: ApprovalHandlerFn, ident: int, request: ApprovalRequest
) -> None:
    approval: Approval | None = None
    failure: str | None = None
    try:
        answer = await invoke_handler(handler, request)  # a plain one off the driver's loop
        approval = coerce_approval(answer)  # as in one process: only True approves
    except Exception as exc:
        _log.warning("codeact.ray: approval handler %s failed", handler_name(handler),
                     exc_info=True)  # fmt: skip
        # Its type only: what a handler raises is the driver's (a webhook's URL, a token),
        # never the program's; the driver's log has all of it.
        failure = type(exc).__name__
    with contextlib.suppress(Exception):  # the actor may have died meanwhile
        await handle.answer.remote(ident, approval, failure)


def handler_name(handler: object) -> str:
    """Who decided, for the audit: the handler's `name`, its function name or its type."""
    if handler is None:
        return "driver"
    name = getattr(handler, "name", None)
    if isinstance(name, str) and name:
        return name
    return getattr(handler, "__name__", None) or type(handler).__name__
