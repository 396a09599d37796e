"""codeact's program runner: runs inside a sandbox, on any backend's interpreter.

It gives model code the sandbox contract (``call_tool``, tools as plain functions,
``call_tool_async``, ``ToolError``/``ToolDenied``, output capped and handed to the host,
the last expression's value, tracebacks in the submitted code's line numbers) on top of a
small host interface that each backend's glue implements:

    dispatch(name, args_json) -> (ok, payload)     call a tool and wait
    start_call(name, args_json) -> (ok, id|payload) start a tool call
    wait_calls(timeout_ms) -> [[id, ok, payload]]  finished started calls
    sleep(ms)                                      a sleep the host bounds by the deadline
    write_output(stream, text)                     stream 1 stdout, 2 stderr
    http_request(request_json) -> (ok, payload)    optional: HTTP through the host's allow-list
                                                   (see codeact_net; without it, no network)

The runner is this module and the ones it imports by plain name, from this folder:
codeact_host (the glue object and the program's output), codeact_streams (sys.stdout, stderr
and stdin), codeact_doc (tools' signatures and docstrings, help()), codeact_tools (tool
calls, their errors, the event loop), codeact_errors (tracebacks and the notes a failing
program gets), codeact_refusals (threads and sockets refused, saying why), codeact_net (HTTP
through the host), codeact_state, codeact_lazy, codeact_defs and codeact_save (a session's
state), codeact_compile (compiling and running the program), codeact_value (the value in the
report). Every backend loads them all, each before the ones that import it.

These modules run on the guest interpreter (CPython 3.10+), import only the standard
library, and are not imported by the host package. Everything they report is untrusted there.
"""

from __future__ import annotations

import asyncio
import base64
import json
import linecache
import sys
import time
import types
from collections.abc import Iterable
from typing import Any

import codeact_doc
import codeact_host
import codeact_net
import codeact_save
import codeact_state
import codeact_tools
from codeact_compile import run_program, split_compile
from codeact_errors import MOUNTS, PACKAGES, describe, exit_report
from codeact_host import STATE_READ, Output
from codeact_net import NetworkDenied, NetworkError, http_get, http_post, http_request
from codeact_refusals import explain_refusals
from codeact_streams import NoStdin, Stream
from codeact_tools import (
    POSITIONAL,
    SandboxLoop,
    ToolDenied,
    ToolError,
    call_tool,
    call_tool_async,
    sleep,
    tool_function,
)
from codeact_value import value_report

__all__ = ["NetworkDenied", "NetworkError", "ToolDenied", "ToolError", "install", "run"]


def _grant_packages(grant: dict[str, Any] | None) -> None:
    """Put the granted (read-only) package tree on sys.path, after the standard library."""
    PACKAGES[:] = [str(grant.get("path") or ""), *(grant.get("modules") or [])] if grant else []
    if grant and grant.get("path"):
        MOUNTS.append((grant["path"], "ro"))
        if grant["path"] not in sys.path:
            sys.path.append(grant["path"])


def _globals(tools: Iterable[dict[str, Any]]) -> dict[str, Any]:
    # The program's globals are a real module's, and that module is __main__ while it runs,
    # as for a script: pickle (and so a session's state) finds its classes and functions.
    main = types.ModuleType("__main__")
    sys.modules["__main__"] = main
    namespace: dict[str, Any] = main.__dict__
    namespace.update(
        {
            "__builtins__": __builtins__,
            "call_tool": call_tool,
            "call_tool_async": call_tool_async,
            "ToolError": ToolError,
            "ToolDenied": ToolDenied,
            "http_request": http_request,
            "http_get": http_get,
            "http_post": http_post,
            "NetworkError": NetworkError,
            "NetworkDenied": NetworkDenied,
        }
    )
    POSITIONAL.clear()
    for stub in tools:
        name, positional = stub["name"], tuple(stub["positional"])
        POSITIONAL[name] = positional
        namespace[name] = codeact_doc.describe(tool_function(name, positional), stub)
    return namespace


# The pool runs this once in every fresh instance, off the caller's path, so that the first
# real program does not pay for touching the runner's code and memory for the first time.
# It keeps a session's state too, and restores it once (`_warm_restore`): the first pickling
# and unpickling in an instance cost several times what the next ones do.
_WARMUP: dict[str, Any] = {
    "code": "import json\nx = json.dumps([1])\nprint(x)\n"
    "rows = [{'id': 1, 'name': 'a', 'score': 0.5}]\n"
    "def first(r):\n    return r[0]\n"
    "try:\n    warmup_tool(1)\nexcept ToolError:\n    pass\n[x, first(rows)]",
    "tools": [{"name": "warmup_tool", "positional": ["x"]}],
    "session": {"state": None, "limit": 1 << 20},
}
# The same program as a plain run, no session (`"warmup": "plain"`): the jail's children warm
# with it while the runs that come are not a session's, whose saving and restoring they would
# not use (the session's part is about half of the warm-up's work there).
_WARMUP_PLAIN = {key: value for key, value in _WARMUP.items() if key != "session"}


def _read_state(offset: int, length: int) -> bytes:
    """Bytes of the session's state that the host keeps (a request whose session says
    ``"fetch"``): the jail's glue has its own frame for it, the others ask as a call."""
    read = getattr(codeact_host.HOST, "read_state", None)
    if read is not None:
        data = read(offset, length)
    else:
        ok, payload = codeact_host.HOST.dispatch(STATE_READ, json.dumps([offset, length]))
        if not ok:
            raise OSError(f"the host did not hand over the state: {payload}")
        data = payload.encode("latin-1")
    if len(data) != length:
        raise OSError(f"the host handed over {len(data)} bytes of the state, not {length}")
    return data  # type: ignore[no-any-return]


_WARM_ROWS = (
    '[{"id": 1, "name": "Ada", "tier": "gold", "qty": 2, "unit_price": 9.5},'
    ' {"id": 2, "name": "Bo", "tier": "silver", "qty": 1, "unit_price": 120.25}]'
)


def _warm_more() -> None:
    """What a typical program does with a tool's rows, once: decode them, compute, sort,
    format, encode (the first touches of those paths' memory, off the caller's path)."""
    rows = codeact_tools.warm_call_path(_WARM_ROWS, "lookup", {"key": "eu", "n": 1}) * 4
    total = 0.0
    for row in rows:
        total += round(row["qty"] * row["unit_price"] * (1 - 0.1) * (1 + 0.2), 2)
    rows.sort(key=lambda r: r["unit_price"], reverse=True)
    text = "\n".join(f"{r['id']} {r['name']}: {r['unit_price']:.2f}" for r in rows)
    text += f"\nsum: {sum(r['unit_price'] for r in rows):.2f} {total:.2f}"
    json.dumps([dict(r) for r in rows])
    repr(rows)
    # Memory a program's objects will be allocated from, faulted in here and freed (the
    # allocators keep it for the next objects): 141 -> 30 page faults on the order-totals
    # program's first run in a warmed instance.
    spare = [str(i) * 3 for i in range(4000)]
    del spare


def _warm_restore(report: dict[str, Any]) -> None:
    """Restore the warm-up's state as a next call would, reading one value and leaving the
    other waiting, and save it again (a splice): every path of a session's call, once."""
    saved = report.get("session", {}).get("state")
    if not isinstance(saved, bytes):
        return
    namespace = types.ModuleType("__main__").__dict__  # not sys.modules': no hook reaches it
    code = "x += '1'"
    carried = codeact_state.restore(
        namespace, saved[:64], code=code, fetch=lambda at, n: saved[at : at + n], size=len(saved)
    )
    try:
        codeact_save.finish(
            namespace,
            {},
            code=code,
            filename="<warmup>",
            carried=carried,
            limit=1 << 20,
            succeeded=True,
        )
    finally:
        if carried.pending is not None:
            carried.pending.uninstall()  # the builtins as they were, whatever happened


def run(request_json: str) -> str:
    """Run one program described by a JSON request; return the JSON report.

    A session's state travels as base64 in the JSON, or, when the request's session says
    ``"raw"``, as raw bytes after the JSON: a NUL (which JSON text never holds), then the
    bytes as latin-1 text, both ways. The raw form saves encoding, escaping and decoding
    the bytes where that is slow (the wasm guest). When it says ``"fetch": size``, the host
    keeps the state and hands over the pieces restore asks for (`_read_state`)."""
    request_json, _, raw_state = request_json.partition("\x00")
    request = json.loads(request_json)
    warmup = bool(request.get("warmup"))
    # "rows": also the paths of a program reading a tool's rows, and memory for its objects
    # (`_warm_more`). The wasm pool asks for it: there a page fault is dear and the pool warms
    # between model turns. Not the jail, which warms every child it forks: it cost the jail's
    # back-to-back executions 10% of their rate there (measured, docs/performance.md).
    warm_rows = request.get("warmup") == "rows"
    warm_plain = request.get("warmup") == "plain"
    if warmup:
        request = _WARMUP_PLAIN if warm_plain else _WARMUP
    filename = request.get("filename") or "<code>"
    code = request["code"]
    output = codeact_host.OUTPUT = Output(int(request.get("output_limit") or 1 << 20))
    codeact_tools.ARGUMENT_LIMIT = int(request.get("argument_limit") or 0)
    sys.stdout = sys.__stdout__ = Stream("stdout", 1)  # type: ignore[misc]
    sys.stderr = sys.__stderr__ = Stream("stderr", 2)  # type: ignore[misc]
    sys.stdin = sys.__stdin__ = NoStdin()  # type: ignore[misc]
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    MOUNTS[:] = [(m["path"], m["mode"]) for m in request.get("mounts") or []]
    MOUNTS.append(("/output", "rw"))
    _grant_packages(request.get("packages"))
    report: dict[str, Any] = {}
    namespace = _globals(request.get("tools") or [])
    baseline = dict(namespace)
    session = request.get("session")
    carried = None
    try:
        if isinstance(session, dict):  # restored before the program, in its own globals
            encoded = session.get("state")
            state = (
                raw_state.encode("latin-1")
                if session.get("raw")
                else base64.b64decode(encoded)
                if isinstance(encoded, str)
                else None
            )
            carried = codeact_state.restore(
                namespace,
                state,
                code=code,
                filename=filename,
                fetch=_read_state,
                size=int(session.get("fetch") or 0),
                budget=float(session.get("restore_s") or codeact_state.BUDGET),
            )
        value = run_program(code, filename, namespace, carried.tree if carried else None)
        report.update(value_report(value, output.limit))
    except SystemExit as exc:
        exit_report(exc, report)
    except BaseException as exc:
        report["error"] = describe(exc, filename)
    if carried is not None and isinstance(session, dict):
        codeact_host.hand_over_program_report(report)
        try:
            report["session"] = codeact_save.finish(
                namespace,
                baseline,
                code=request["code"],
                filename=filename,
                carried=carried,
                limit=int(session["limit"]),
                succeeded="error" not in report,
                pieces=int(session.get("pieces") or 100_000),
            )
        except BaseException as exc:  # a MemoryError has no message: its type says it
            failure = describe(exc, filename)
            said = f"{failure['type']}: {failure['message']}" if failure["message"] else ""
            report["session"] = {"failed": said or failure["type"]}
    if warmup and not warm_plain:
        try:
            _warm_restore(report)
            # The warm-up program runs as a session's (through its tree): the split that a
            # plain program takes, warnings caught, is touched here once (0.1 ms otherwise).
            split_compile("x = 1\nx", filename)
            if warm_rows:
                _warm_more()
        except BaseException:
            pass
    try:
        output.flush(final=True)  # with what is left of a character cut short
    except BaseException:
        pass
    report["output_dropped"] = 0  # the host has the count: flush() reported it on stream 3
    tail = ""
    saved = report.get("session", {}).get("state")
    if isinstance(saved, bytes):
        if isinstance(session, dict) and session.get("raw"):
            tail = "\x00" + saved.decode("latin-1")
            report["session"]["state"] = None
        else:
            report["session"]["state"] = base64.b64encode(saved).decode("ascii")
    try:
        return json.dumps(report) + tail
    except (TypeError, ValueError):
        report.pop("value", None)
        report["value_repr"] = "<the value could not be encoded>"
        return json.dumps(report)


def warm_up(*, rows: bool = False, session: bool = True) -> None:
    """Run the runner's own warm-up program once (`rows`: also a program's work on a tool's
    rows; `session`: as a session's run, saving and restoring its state) against
    `codeact_host.WarmupHost`, so that its first touches of code and memory come before any
    program of the user's. The backend installs its real host afterwards."""
    install(codeact_host.WarmupHost())
    run('{"warmup": "rows"}' if rows else '{"warmup": true}' if session else '{"warmup": "plain"}')


def install(host: Any, *, patch_time: bool = True) -> None:
    """Connect the runner to a backend's host glue and patch the interpreter for it."""
    codeact_host.HOST = host
    if patch_time:
        time.sleep = sleep
    # A backend whose glue has no http_request keeps the default: every request refused.
    send = getattr(host, "http_request", None)
    codeact_net.install(send or codeact_net._no_network, lambda: codeact_host.OUTPUT.flush())
    asyncio.events.new_event_loop = SandboxLoop
    asyncio.new_event_loop = SandboxLoop
    codeact_doc.install()
    try:
        explain_refusals()
    except Exception:
        pass
    try:
        asyncio.events._get_event_loop_policy()._loop_factory = SandboxLoop  # type: ignore[attr-defined]
    except Exception:
        try:
            asyncio.get_event_loop_policy()._loop_factory = SandboxLoop  # type: ignore[attr-defined]
        except Exception:
            pass
