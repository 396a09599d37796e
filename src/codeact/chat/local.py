"""The embedded offline model: Qwen2.5-Coder-1.5B-Instruct served by xllamacpp on 127.0.0.1.

`LocalModel` assembles the model file (once, `model_files.ensure_model`), starts llama.cpp's
OpenAI-compatible server in a child process on a free port of 127.0.0.1, and stops it.
`LocalChat` is the chat client over it: an `OpenAIChat` that starts the server on its first
request and stops it on `aclose()`. Needs the extra: ``pip install -e '.[local]'``.

The server runs in a child process, not in ours, because llama.cpp takes over SIGINT and
SIGTERM and logs to stderr: in a child, Ctrl-C still interrupts the caller and the log goes
to ``<cache>/logs/local-model.log``. xllamacpp writes llama.cpp's own log only when the server
fails to start, so the log also says what was started, and one line per reply (tokens read
and written, time, rate). The child ends when its stdin closes, so it never outlives the
process that started it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Literal

from typing_extensions import Self

from .._checks import check_number
from .._loop_lock import LoopLock
from .._paths import cache_dir
from ..errors import ChatError, ConfigurationError, ModelNotConfigured
from .grammar_tools import complete_with_grammar
from .messages import ChatResponse, Message, ResponseFormat, ToolChoice, ToolDefinition
from .model_files import EMBEDDED_MODEL, ModelSpec, ensure_model
from .openai_chat import OpenAIChat
from .options import DAY_S, check_sampling
from .streaming import OnDelta

__all__ = ["LocalChat", "LocalModel", "local_model_installed"]

Progress = Callable[[str], None]


def local_model_installed() -> bool:
    """True when the `local` extra is installed (xllamacpp and the first model part)."""
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("xllamacpp", EMBEDDED_MODEL.parts[0].package)
    )


class LocalModel:
    """The embedded model's server process. Use as a context manager, or `start`/`stop`.

    Args:
        spec: Which model file (default: the embedded Qwen2.5-Coder-1.5B-Instruct).
        context: Context window in tokens.
        threads: CPU threads for inference (default: ``CODEACT_LOCAL_THREADS`` from the
            environment, else llama.cpp's choice). On a machine busy with other work, 1 is
            often faster: llama.cpp's threads wait for each other at every layer.
        start_timeout: Seconds to wait for the server to listen.
        progress: Called with one-line status messages (assembly, start).
    """

    def __init__(
        self,
        *,
        spec: ModelSpec = EMBEDDED_MODEL,
        context: int = 8192,
        threads: int | None = None,
        start_timeout: float = 300.0,
        progress: Progress | None = None,
    ) -> None:
        check_number("LocalModel(context=)", context, low=256, high=1 << 20, integer=True)
        check_number(
            "LocalModel(start_timeout=)", start_timeout, low=0.001, high=DAY_S, unit="seconds"
        )
        self.spec = spec
        self.context = context
        if threads is None and os.environ.get("CODEACT_LOCAL_THREADS", "").isdigit():
            threads = int(os.environ["CODEACT_LOCAL_THREADS"]) or None
        name = "LocalModel(threads=) (or CODEACT_LOCAL_THREADS)"
        check_number(name, threads, low=1, high=4096, integer=True, optional=True)
        self.threads = threads
        self.start_timeout = start_timeout
        self.progress = progress
        self.log_path = cache_dir("logs") / "local-model.log"
        self._proc: subprocess.Popen[str] | None = None
        self._address: str | None = None
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (``http://127.0.0.1:PORT/v1``) of the running server."""
        if self._address is None:
            raise ChatError("the embedded model is not running; call start() first")
        return self._address + "/v1"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> str:
        """Assemble the model if needed, start the server, return its base URL."""
        with self._lock:
            if self.running:
                return self.base_url
            if importlib.util.find_spec("xllamacpp") is None:
                raise ModelNotConfigured(
                    "the embedded model needs xllamacpp: install it with "
                    f"`{self.spec.install_hint}`, or configure an endpoint with "
                    "OPENAI_BASE_URL or OPENAI_API_KEY"
                )
            path = ensure_model(self.spec, progress=self.progress)
            if self.progress:
                self.progress(f"starting {self.spec.name} on 127.0.0.1 (log: {self.log_path})")
            self._address = self._spawn(path)
            atexit.register(self.stop)
            return self.base_url

    def _spawn(self, model: Path) -> str:
        cmd = [sys.executable, "-m", "codeact.chat._llama_server", str(model)]
        cmd += ["--ctx", str(self.context)]
        if self.threads:
            cmd += ["--threads", str(self.threads)]
        self.log_path.write_text("", encoding="utf-8")  # one log per start
        # Appending (O_APPEND), so that the server's lines and `log()`'s never overwrite.
        with self.log_path.open("a", encoding="utf-8") as log:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        self._proc = proc
        line = _read_line(proc, self.start_timeout)
        try:
            report = json.loads(line) if line else {}
        except ValueError:
            report = {}
        address = report.get("address") if isinstance(report, dict) else None
        if not isinstance(address, str):
            self.stop()
            reason = report.get("error") if isinstance(report, dict) else None
            raise ChatError(
                "the embedded model's server did not start"
                + (f": {reason}" if reason else f" within {self.start_timeout:g} s")
                + f" (log: {self.log_path}: {_log_tail(self.log_path)})"
            )
        return address

    def log(self, line: str) -> None:
        """Add a line to the server's log (the model's replies: tokens, time and rate)."""
        with contextlib.suppress(OSError), self.log_path.open("a", encoding="utf-8") as log:
            log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")

    def stop(self) -> None:
        """Stop the server (closing its stdin lets it shut down cleanly; killed after 10 s)."""
        proc, self._proc, self._address = self._proc, None, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            if proc.stdin:
                proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()
        atexit.unregister(self.stop)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running at {self._address}" if self.running else "stopped"
        return f"<LocalModel {self.spec.name} {state}>"


class LocalChat:
    """Chat client for the embedded model: starts it on the first request, stops on `aclose`.

    Args:
        temperature: Sampling temperature (0.2 measured best for CodeAct with this model).
        max_tokens: Cap of generated tokens per reply, so a looping model cannot run for
            minutes.
        server: A `LocalModel` to use (default: a new one, owned and stopped by this client).
        progress: Status messages while assembling/starting (e.g. ``print``).
        tool_calls: How a request with tools is made. ``"prompt"`` (default): the tools are
            shown in the model's own ``<tool_call>`` format, the first reply of a
            conversation starts as a call, and the ``<tool_call>`` blocks of replies come
            back as tool calls (`codeact.chat.grammar_tools`); ``"grammar"``: the same, and
            llama.cpp holds every reply to that format while sampling (slower per token);
            ``"native"``: the tools go to the server's chat template and its tool-call parser
            (this model then writes calls as text, for the agent's text fallback).
            Default: ``CODEACT_LOCAL_TOOL_CALLS`` from the environment, else ``"prompt"``.
    """

    def __init__(
        self,
        *,
        temperature: float = 0.2,
        max_tokens: int = 1024,
        server: LocalModel | None = None,
        progress: Progress | None = None,
        tool_calls: Literal["prompt", "grammar", "native"] | None = None,
    ) -> None:
        if tool_calls is None:  # the environment may choose, e.g. to compare the three
            tool_calls = os.environ.get("CODEACT_LOCAL_TOOL_CALLS", "prompt")  # type: ignore[assignment]
        if tool_calls not in ("prompt", "grammar", "native"):
            raise ConfigurationError(
                f"tool_calls must be 'prompt', 'grammar' or 'native', got {tool_calls!r}"
            )
        check_sampling("LocalChat", temperature, max_tokens, optional=False)
        self.tool_calls = tool_calls
        #: Its tool calls are read out of the model's text (the prompt modes): the agent
        #: does not take them as a sign of a model that calls tools natively.
        self.reads_calls_from_text = tool_calls != "native"
        self.temperature = temperature
        self.max_tokens = max_tokens
        self._owns_server = server is None
        self.server = server or LocalModel(progress=progress)
        self._chat: OpenAIChat | None = None
        self._starting = LoopLock()  # `run_sync`'s loop thread and the caller's loops alike
        #: When set, replies are streamed and each piece is handed to it as it is written.
        self.on_delta: OnDelta | None = None

    @property
    def model(self) -> str:
        return f"{self.server.spec.name}, embedded"

    async def start(self) -> None:
        """Start the model now (otherwise the first request does)."""
        async with self._starting:
            if self._chat is not None and self.server.running:
                return
            base_url = await asyncio.to_thread(self.server.start)
            self._chat = OpenAIChat(
                model="local",
                base_url=base_url,
                temperature=self.temperature,
                max_tokens=self.max_tokens,
                max_retries=1,
                # A reply of max_tokens on a loaded 2-core machine can take minutes; a retry
                # after a timeout would start that work again, so the wait is long.
                timeout=900.0,
                env={},
            )

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] = (),
        response_format: ResponseFormat | None = None,
        tool_choice: ToolChoice | None = None,
    ) -> ChatResponse:
        """One reply. With tools in the prompt modes, ``tool_choice="required"`` begins the
        reply as a call, as the first reply of a conversation always is."""
        if self._chat is None or not self.server.running:
            await self.start()
        assert self._chat is not None
        self._chat.on_delta = self.on_delta
        started = time.perf_counter()
        if tools and self.tool_calls != "native" and response_format is None:
            grammar = self.tool_calls == "grammar"
            response = await complete_with_grammar(
                self._chat, messages, tools, grammar=grammar, call_due=tool_choice == "required"
            )
        else:
            response = await self._chat.complete(
                messages, tools=tools, response_format=response_format, tool_choice=tool_choice
            )
        self.server.log(_turn_line(response, time.perf_counter() - started))
        return response

    async def aclose(self) -> None:
        chat, self._chat = self._chat, None
        if chat is not None:
            await chat.aclose()
        if self._owns_server:
            await asyncio.to_thread(self.server.stop)

    def __repr__(self) -> str:
        return f"LocalChat({self.server!r})"


def _turn_line(response: ChatResponse, seconds: float) -> str:
    u = response.usage
    rate = f", {u.output_tokens / seconds:.1f} tokens/s overall" if seconds > 0 else ""
    return (
        f"reply in {seconds:.1f} s: {u.input_tokens:,} tokens read, {u.output_tokens:,} "
        f"written{rate}; finish: {response.finish_reason}"
    )


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The child's first stdout line, or "" if it exits or stays silent for `timeout`."""
    result: list[str] = []
    reader = threading.Thread(
        target=lambda: result.append(proc.stdout.readline() if proc.stdout else ""), daemon=True
    )
    reader.start()
    reader.join(timeout)
    return result[0].strip() if result else ""


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        tail = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return "no log"
    return " | ".join(line.strip() for line in tail) or "empty log"
