"""`OpenAIChat`: any OpenAI-compatible chat-completions endpoint, through the `openai` package.

OpenAI, Azure OpenAI, Ollama, vLLM, llama.cpp servers and the embedded model all speak the
same chat-completions API. This client turns our `Message`/`ToolDefinition` values into that
API's JSON and its replies back into `ChatResponse`, retries what is worth retrying, and turns
every failure into a one-line `ChatError` (translated at the boundary, ``raise ... from``).
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._display import utf8_safe_json
from ..errors import ChatError, ConfigurationError, ModelNotConfigured
from .endpoint import Endpoint, resolve_endpoint
from .messages import (
    ChatResponse,
    Message,
    ResponseFormat,
    ToolCall,
    ToolChoice,
    ToolDefinition,
    Usage,
)
from .streaming import OnDelta, read_stream, stream_request

if TYPE_CHECKING:
    import openai

__all__ = ["OpenAIChat"]

#: HTTP statuses worth another attempt: rate limits and server-side failures.
_RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
_ids = itertools.count(1)


class OpenAIChat:
    """A chat client for OpenAI, Azure OpenAI or any OpenAI-compatible server.

    Configured by arguments, else by the usual environment variables (see `resolve_endpoint`):
    ``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``AZURE_OPENAI_ENDPOINT`` +
    ``AZURE_OPENAI_API_KEY`` (+ ``OPENAI_API_VERSION``), and ``CODEACT_MODEL`` for the model.

    >>> chat = OpenAIChat(model="qwen2.5-coder", base_url="http://127.0.0.1:8080/v1")
    >>> chat.model
    'qwen2.5-coder'

    Args:
        model: Model (Azure: deployment) name. Without one, a server that serves exactly one
            model is asked for its name on the first request.
        base_url: An OpenAI-compatible endpoint, e.g. ``http://127.0.0.1:11434/v1``.
        api_key: The key; local servers need none.
        azure_endpoint: An Azure OpenAI resource, e.g. ``https://NAME.openai.azure.com``.
        api_version: Azure API version.
        temperature: Sampling temperature sent with every request (None: the server's).
        max_tokens: Cap of generated tokens per reply (None: the server's).
        max_retries: Further attempts after a 429, a 5xx or a dropped connection.
        backoff: First retry delay in seconds; it doubles each attempt (with jitter), and a
            ``Retry-After`` header is honoured up to `max_backoff`.
        timeout: Seconds one request may take.
        extra_body: Extra JSON fields for every request (server-specific options).
    """

    def __init__(
        self,
        *,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        azure_endpoint: str | None = None,
        api_version: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        timeout: float = 300.0,
        extra_body: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if max_retries < 0 or backoff < 0 or max_backoff < 0 or timeout <= 0:
            raise ConfigurationError(
                "max_retries, backoff and max_backoff must be >= 0 and timeout > 0"
            )
        self.endpoint: Endpoint = resolve_endpoint(
            model=model,
            base_url=base_url,
            api_key=api_key,
            azure_endpoint=azure_endpoint,
            api_version=api_version,
            env=env,
        )
        self._model = self.endpoint.model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.extra_body = dict(extra_body or {})
        #: When set, replies are streamed and each piece is handed to it as it is written.
        self.on_delta: OnDelta | None = None
        self._tool_choice_refused = False  # the server answered 400 to a tool_choice
        import openai  # imported here: it takes a second, and most commands never chat

        # Our own retry loop (below) decides what to retry and how long to wait, so the SDK's
        # is off: two nested retry loops would multiply the attempts.
        self._client: openai.AsyncOpenAI
        if self.endpoint.azure:
            self._client = openai.AsyncAzureOpenAI(
                azure_endpoint=self.endpoint.url,
                api_key=self.endpoint.api_key,
                api_version=self.endpoint.api_version,
                max_retries=0,
                timeout=timeout,
            )
        else:
            self._client = openai.AsyncOpenAI(
                base_url=self.endpoint.url,
                api_key=self.endpoint.api_key,
                max_retries=0,
                timeout=timeout,
            )

    @property
    def model(self) -> str:
        return self._model or "(the server's only model)"

    @property
    def base_url(self) -> str:
        return self.endpoint.url

    async def resolve_model(self) -> str:
        """The model's name; without one given, the server is asked for its only model (as the
        first request would) so that `model` names it from now on."""
        if self._model is None:
            self._model = await self._only_model()
        return self._model

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] = (),
        response_format: ResponseFormat | None = None,
        tool_choice: ToolChoice | None = None,
    ) -> ChatResponse:
        """Send the conversation; return the model's reply (retrying 429 and 5xx).
        `tool_choice` goes to the endpoint with the tools (``"required"``: a call is due)."""
        await self.resolve_model()
        request: dict[str, Any] = {
            "model": self._model,
            # A program's output or value, a tool's result or the model's own reply may hold lone
            # surrogates; the client encodes the request as UTF-8, which cannot hold them, and
            # the whole turn would fail with a UnicodeEncodeError: they go escaped.
            "messages": [utf8_safe_json(m.to_openai()) for m in messages],
        }
        if tools:
            request["tools"] = [t.to_openai() for t in tools]
            if tool_choice is not None and not self._tool_choice_refused:
                request["tool_choice"] = tool_choice
        if self.temperature is not None:
            request["temperature"] = self.temperature
        if self.max_tokens is not None:
            request["max_tokens"] = self.max_tokens
        if response_format is not None:
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": response_format.get("name", "output"),
                    "schema": response_format["schema"],
                },
            }
        if self.extra_body:
            request["extra_body"] = self.extra_body
        if self.on_delta is not None:
            return self._to_response(await self._streamed(request, self.on_delta))
        reply = await self._with_retries(request)
        return self._to_response(reply)

    async def _streamed(self, request: dict[str, Any], on_delta: OnDelta) -> Any:
        import openai

        stream = await self._with_retries(stream_request(request))
        try:
            return await read_stream(stream, on_delta)
        except (openai.APIConnectionError, openai.APIStatusError) as exc:
            raise self._translate(exc, attempts=1) from exc

    async def _with_retries(self, request: dict[str, Any]) -> Any:
        import openai

        attempts, attempt = self.max_retries + 1, 1
        while True:
            try:
                return await self._client.chat.completions.create(**request)
            except (openai.APIConnectionError, openai.APIStatusError) as exc:
                status = getattr(exc, "status_code", None)
                if status in (400, 422) and "tool_choice" in request:
                    # A server that does not take tool_choice (or not "required"): the agent
                    # only asked for what its nudges would ask again; send it without.
                    self._tool_choice_refused = True
                    request = {k: v for k, v in request.items() if k != "tool_choice"}
                    continue
                retryable = status is None or status in _RETRY_STATUSES
                if not retryable or attempt == attempts:
                    raise self._translate(exc, attempts=attempt) from exc
                await asyncio.sleep(self._delay(attempt, exc))
                attempt += 1

    def _delay(self, attempt: int, exc: Exception) -> float:
        response = getattr(exc, "response", None)
        header = response.headers.get("retry-after") if response is not None else None
        if header:
            try:
                return min(max(float(header), 0.0), self.max_backoff)
            except ValueError:
                pass
        delay = self.backoff * (2 ** (attempt - 1))
        return float(min(delay * (0.75 + random.random() / 2), self.max_backoff))

    def _translate(self, exc: Exception, *, attempts: int) -> ChatError:
        import openai

        where = f"the model endpoint {self.endpoint.describe()}"
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        if isinstance(exc, openai.APITimeoutError):
            return ChatError(f"{where} did not answer in time{tries}")
        if isinstance(exc, openai.APIConnectionError):
            return ChatError(f"cannot reach {where}{tries}: {_one_line(str(exc.__cause__ or exc))}")
        assert isinstance(exc, openai.APIStatusError)
        status, detail = exc.status_code, _detail(exc)
        if status in (401, 403):
            return ChatError(
                f"{where} refused the credentials (HTTP {status}): {detail}; "
                f"check {self.endpoint.key_setting}"
            )
        if status == 404:
            return ChatError(
                f"{where} does not serve model {self._model!r} (HTTP 404): {detail}; "
                "set CODEACT_MODEL (or --model / model=) to a model it serves"
            )
        if status == 429:
            return ChatError(f"{where} kept rate-limiting the requests (HTTP 429){tries}: {detail}")
        if status >= 500:
            return ChatError(f"{where} failed (HTTP {status}){tries}: {detail}")
        return ChatError(f"{where} rejected the request (HTTP {status}): {detail}")

    async def _only_model(self) -> str:
        """The name of the one model a server serves (llama.cpp, a single vLLM model)."""
        import openai

        try:
            page = await self._client.models.list()
        except (openai.APIConnectionError, openai.APIStatusError) as exc:
            raise self._translate(exc, attempts=1) from exc
        names = [m.id for m in page.data]
        if len(names) != 1:
            listed = ", ".join(names[:10]) or "none"
            raise ModelNotConfigured(
                f"no model name given and {self.endpoint.describe()} serves {len(names)} models "
                f"({listed}); set CODEACT_MODEL or pass --model / model="
            )
        return names[0]

    def _to_response(self, reply: Any) -> ChatResponse:
        choices = getattr(reply, "choices", None) or []
        if not choices:
            raise ChatError(f"the model endpoint {self.endpoint.describe()} returned no reply")
        choice = choices[0]
        message = choice.message
        calls = tuple(
            ToolCall(
                id=c.id or f"call_{next(_ids)}",
                name=c.function.name,
                arguments=c.function.arguments or "{}",
            )
            for c in (message.tool_calls or ())
            if getattr(c, "function", None) is not None
        )
        usage = reply.usage
        return ChatResponse(
            text=message.content,
            tool_calls=calls,
            usage=Usage(
                input_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                output_tokens=getattr(usage, "completion_tokens", 0) or 0,
                total_tokens=getattr(usage, "total_tokens", 0) or 0,
            )
            if usage is not None
            else Usage(),
            finish_reason=choice.finish_reason,
            model=getattr(reply, "model", None),
        )

    async def aclose(self) -> None:
        await self._client.close()

    def __repr__(self) -> str:
        return f"OpenAIChat(model={self.model!r}, endpoint={self.endpoint.describe()!r})"


def _detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if message:
            return _one_line(str(message))
    return _one_line(exc.message or f"HTTP {exc.status_code}")


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
