"""Every call of a *direct* tool (traditional wiring) goes through `DirectTools.invoke`.

It finds the tool and hands the call to a `ToolPipeline` (`codeact.calls.pipeline`), the
same chain of middlewares, approvals, redaction and audit that the calls programs make from
code pass through: validation against the tool's schema, the approval handler for tools with
``approval_mode="always_require"``, the tool itself (sync tools in a worker thread, under
its timeout), conversion of the result to JSON, and one `ToolCallRecord` (origin
``"direct"``). Whatever goes wrong becomes the text the model reads as the tool's result
(``Error: ...``), so the model can correct itself.

With a CodeAct, direct calls share its pipeline, so a policy written once applies to both;
an `Agent(approval_handler=...)` decides the direct calls instead of the CodeAct's handler.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from ..bridge.protocol import ToolCallRecord
from ..calls.approvals import ApprovalHandler
from ..calls.outcome import DirectCallResult
from ..calls.pipeline import ToolPipeline
from ..chat.messages import ToolCall, ToolDefinition
from ..errors import ConfigurationError
from ..runtime import CodeAct
from ..runtime.instructions import dict_shape
from ..tools import Tool, ToolSet

__all__ = ["DirectCallResult", "DirectTools", "direct_pipeline", "model_text"]


def model_text(result: DirectCallResult) -> str:
    """What the model reads back for one direct call: the value (a string as it is, anything
    else as JSON), or ``Error: ...`` so that it can correct itself."""
    if not result.ok:
        return f"Error: {result.error}"
    value = result.value
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def direct_pipeline(
    tools: ToolSet, codeact: CodeAct | None, approval_handler: ApprovalHandler | None
) -> ToolPipeline:
    """The pipeline direct calls go through: the CodeAct's (with `approval_handler` in place
    of its handler, when one is given), or a plain one.

    A gated tool with no handler anywhere is a configuration error here, not a denial the
    model discovers call by call.
    """
    shared = codeact.pipeline if codeact is not None else None
    handler = approval_handler or (shared.approval_handler if shared else None)
    gated = [t.name for t in tools if t.approval_mode == "always_require"]
    if gated and handler is None:
        raise ConfigurationError(
            f"tool(s) {', '.join(gated)} need approval (approval_mode='always_require'); "
            "pass Agent(approval_handler=...) to decide their calls"
        )
    if shared is not None and approval_handler is None:
        return shared
    if shared is None:
        return ToolPipeline(approval_handler=approval_handler)
    return ToolPipeline(
        middleware=shared.middleware,
        approval_handler=approval_handler,
        approval_timeout=shared.approver.timeout,
        redact=shared.redactor,
        audit=shared.audit,
    )


class DirectTools:
    """The direct tools of an agent, and the one way they are called."""

    def __init__(self, tools: ToolSet, *, pipeline: ToolPipeline, timeout: float = 30.0) -> None:
        self.tools = tools
        self.pipeline = pipeline
        self.timeout = timeout

    def definitions(self) -> list[ToolDefinition]:
        return [ToolDefinition(t.name, _with_returns(t), t.parameters) for t in self.tools]

    def __contains__(self, name: object) -> bool:
        return name in self.tools

    async def invoke(
        self, call: ToolCall, *, history: Sequence[ToolCallRecord], started: float
    ) -> DirectCallResult:
        """Run one call the model asked for; never raises for the tool's or model's mistakes
        (an unknown tool, too, ends as a record the audit sees).

        `started` is the run's start (`time.monotonic()`), where records count from.
        """
        opened = time.monotonic()
        arguments = call.arguments or "{}"
        pipeline = self.pipeline
        record, parsed = pipeline.record(
            call.name,
            arguments,
            started_ms=(opened - started) * 1000,
            origin="direct",
            parse=call.name in self.tools,  # an unknown tool's arguments are never read
        )
        opened_call = pipeline.open(
            record, self.tools, arguments, parsed, opened=opened, history=history
        )
        return await pipeline.run_direct(opened_call, self.timeout)


def _with_returns(tool: Tool) -> str:
    """The description and, where the tool declares it, the shape of what it returns
    (``Returns list[Flight], where Flight = {"date": str, "price": float}``): the model then
    knows the keys before it needs them."""
    description = tool.description or ""
    _, arrow, returns = tool.signature.rpartition(" -> ")
    if not arrow or returns in ("None", "Any", "object"):
        return description
    text = f"Returns {returns}"
    if tool.definitions:
        text += ", where " + "; ".join(dict_shape(d) for d in tool.definitions.values())
    return f"{description}\n{text}." if description else f"{text}."
