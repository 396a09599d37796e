"""`OpenAIChat`: any OpenAI-compatible chat-completions endpoint, through the `openai` package.

OpenAI, Azure OpenAI, Ollama, vLLM, llama.cpp servers and the embedded model all speak the
same chat-completions API. This client turns our `Message`/`ToolDefinition` values into that
API's JSON and its replies back into `ChatResponse`, retries what is worth retrying, and turns
every failure into a one-line `ChatError` (translated at the boundary, ``raise ... from``).
A reply is read as JSON data whatever its shape (`codeact.chat.replies`): one that is not a
chat completion (not JSON, no message, a stream cut short) is asked for again, as after a 5xx.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .._display import utf8_safe_json
from .._nesting import TooDeep, loads_within
from ..errors import ChatError, ModelNotConfigured
from .endpoint import Endpoint, redact_http_logs, resolve_endpoint
from .failures import (
    RETRY_STATUSES,
    broken_reply,
    models_failure,
    refuses_tool_choice,
    retry_delay,
    translate,
)
from .messages import (
    ChatResponse,
    Message,
    ResponseFormat,
    ToolChoice,
    ToolDefinition,
)
from .options import check_openai_chat
from .per_loop import PerLoop
from .replies import BadReply, ReplyTooLarge, chat_response, field_of, snippet, unparsed
from .streaming import OnDelta, read_stream, stream_request

if TYPE_CHECKING:
    import openai

__all__ = ["MAX_REPLY_BYTES", "OpenAIChat"]

_T = TypeVar("_T")

#: The largest reply `OpenAIChat` reads by default (a body, or a stream's text and calls).
MAX_REPLY_BYTES = 16 << 20


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
        max_retries: Further attempts after a 429, a 5xx, a dropped connection or a reply
            that is not a whole chat completion (a streamed one is read again from its start).
        backoff: First retry delay in seconds; it doubles each attempt (with jitter), and a
            ``Retry-After`` header is honoured up to `max_backoff` (one that is no number of
            seconds from 0, such as nan or -1, is not).
        timeout: Seconds one request may take, all of it: connecting, sending, and reading
            the whole reply or the whole stream (each attempt; a server that trickles or
            never finishes its reply is cut off then, and the attempt fails as timed out).
        max_reply_bytes: The largest reply read (16 MiB by default): a body, or a streamed
            reply's text and tool calls, past it is cut off and reported as one `ChatError`
            (not asked for again: it would be as large).
        extra_body: Extra JSON fields for every request (server-specific options).

    A number of the wrong type or out of range (NaN, a bool, ``max_retries=1.5``) is refused
    here, one `ConfigurationError` line naming the option and its range (`.options`).
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
        max_reply_bytes: int = MAX_REPLY_BYTES,
        extra_body: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        check_openai_chat(
            temperature=temperature,
            max_tokens=max_tokens,
            max_retries=max_retries,
            backoff=backoff,
            max_backoff=max_backoff,
            timeout=timeout,
            max_reply_bytes=max_reply_bytes,
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
        self.timeout = timeout
        self.max_reply_bytes = max_reply_bytes
        self.extra_body = dict(extra_body or {})
        #: When set, replies are streamed and each piece is handed to it as it is written.
        self.on_delta: OnDelta | None = None
        self._tool_choice_refused = False  # the server said it does not take tool_choice
        # One ``openai`` client per event loop (its connection pool belongs to the loop it was
        # made in), made on first use there and closed when that loop shuts down: the same
        # client may serve `asyncio.run` after `asyncio.run`, and `run_sync`'s loop thread.
        # The first is made now, so that a bad configuration fails here.
        self._clients = PerLoop(self._new_client, _close_client, first=self._new_client())

    def _new_client(self) -> openai.AsyncOpenAI:
        import openai  # imported here: it takes a second, and most commands never chat

        redact_http_logs()  # its HTTP client logs each request's URL, a password and all

        # Our own retry loop (below) decides what to retry and how long to wait, so the SDK's
        # is off: two nested retry loops would multiply the attempts.
        if self.endpoint.azure:
            return openai.AsyncAzureOpenAI(
                azure_endpoint=self.endpoint.url,
                api_key=self.endpoint.api_key,
                api_version=self.endpoint.api_version,
                max_retries=0,
                timeout=self.timeout,
            )
        return openai.AsyncOpenAI(
            base_url=self.endpoint.url,
            api_key=self.endpoint.api_key,
            max_retries=0,
            timeout=self.timeout,
        )

    @property
    def _client(self) -> openai.AsyncOpenAI:
        """The ``openai`` client of the running event loop."""
        return self._clients.get()

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
        on_delta = self.on_delta
        return await self._with_retries(lambda: self._one_reply(request, on_delta), request)

    async def _with_retries(
        self, attempt_once: Callable[[], Awaitable[_T]], request: dict[str, Any] | None = None
    ) -> _T:
        """`attempt_once()`, tried again after a failure worth another attempt (a 429, a 5xx,
        a connection that failed or timed out, a `BadReply`), then one `ChatError`.
        `request` is the chat request that `attempt_once` sends (None: not a chat request)."""
        import openai

        attempts, attempt = self.max_retries + 1, 1
        while True:
            failure: Exception
            try:
                return await attempt_once()
            except (openai.APIConnectionError, openai.APIStatusError) as exc:
                status = getattr(exc, "status_code", None)
                if (
                    request is not None
                    and "tool_choice" in request
                    and isinstance(exc, openai.APIStatusError)
                    and refuses_tool_choice(exc)
                ):
                    # A server that does not take tool_choice (or not "required"), as its
                    # message says: the agent only asked for what its nudges would ask again;
                    # send it without, now and from now on (the server will not take it later).
                    # Any other 400 (a conversation too long, say) leaves tool_choice as it is.
                    self._tool_choice_refused = True
                    del request["tool_choice"]  # the request `attempt_once` sends
                    continue
                if status is not None and status not in RETRY_STATUSES:
                    raise self._translate(exc, attempts=attempt) from exc
                failure = exc
            except ReplyTooLarge as exc:  # another would be as large
                raise self._translate(exc, attempts=attempt) from exc
            except BadReply as exc:  # another reply may well be whole, as after a 5xx
                failure = exc
            if attempt == attempts:
                raise self._translate(failure, attempts=attempt) from failure
            await asyncio.sleep(self._delay(attempt, failure))
            attempt += 1

    async def _one_reply(self, request: dict[str, Any], on_delta: OnDelta | None) -> ChatResponse:
        """One attempt at a chat request: its reply read (`_read_reply`) and made a
        `ChatResponse`."""
        reply = await self._bounded(self._read_reply(request, on_delta), "POST", "chat/completions")
        try:
            return chat_response(reply)
        except RecursionError as exc:  # a value nested too deep to turn into text
            raise BadReply("sent a reply nested too deep to read") from exc

    async def _bounded(self, work: Awaitable[_T], method: str, path: str) -> _T:
        """One request (`method` `path`) within `timeout` seconds in all. Running out of time
        is the client's timeout error (retried, then "did not answer in time"); a reply nested
        too deep for the decoders is a `BadReply`, not a RecursionError. So is any failure of
        the HTTP client while the reply comes (the SDK turns only those before it into its
        errors): a connection dropped mid-body, a broken chunked or gzip body."""
        import httpx2
        import openai

        try:
            return await asyncio.wait_for(work, self.timeout)
        except (asyncio.TimeoutError, httpx2.TimeoutException) as exc:  # TimeoutError from 3.11
            # The SDK's own timeout error (of the request, built by its HTTP client).
            url = self._client.base_url.join(path)
            request_made = self._client._client.build_request(method, url)
            raise openai.APITimeoutError(request=request_made) from exc
        except httpx2.RequestError as exc:  # transport and decoding errors, every one
            raise broken_reply(exc) from exc
        except RecursionError as exc:
            raise BadReply("sent a reply nested too deep to read") from exc
        except MemoryError as exc:
            raise BadReply("sent a reply too large to read") from exc

    async def _read_reply(self, request: dict[str, Any], on_delta: OnDelta | None) -> Any:
        if on_delta is not None:
            stream = await self._client.chat.completions.create(**stream_request(request))
            try:
                return await read_stream(stream, on_delta, self.max_reply_bytes)
            finally:
                await stream.close()
        limit = self.max_reply_bytes
        create = self._client.chat.completions.with_streaming_response.create
        async with create(**request) as response:
            length = response.headers.get("content-length", "")
            if length.isdigit() and len(length) < 20 and int(length) > limit:
                raise ReplyTooLarge(limit)
            body = bytearray()
            async for piece in response.iter_bytes():
                body += piece
                if len(body) > limit:
                    raise ReplyTooLarge(limit)
            kind = response.headers.get("content-type", "")
        text = body.decode("utf-8", "replace")
        try:
            return loads_within(text)
        except TooDeep as exc:
            raise BadReply("sent a reply nested too deep to read") from exc
        except ValueError as exc:  # json.JSONDecodeError: a 200 whose body is not JSON
            if "json" not in kind.lower():
                return text  # not JSON, nor said to be: "not a chat completion"
            raise BadReply("sent a reply that is not JSON", snippet(unparsed(exc))) from exc

    def _delay(self, attempt: int, exc: Exception) -> float:
        return retry_delay(attempt, exc, backoff=self.backoff, max_backoff=self.max_backoff)

    def _translate(self, exc: Exception, *, attempts: int) -> ChatError:
        return translate(exc, endpoint=self.endpoint, model=self._model, attempts=attempts)

    async def _only_model(self) -> str:
        """The name of the one model a server serves (llama.cpp, a single vLLM model), asked
        for within `timeout` and retried as a chat request is. A server without a list of
        models, or with one that is not one, says so: the model is then to be named."""
        try:
            data = await self._with_retries(self._models_page)
        except ChatError as exc:
            raise models_failure(exc, endpoint=self.endpoint) from exc.__cause__
        names = [m for m in (field_of(m, "id") for m in data) if isinstance(m, str) and m]
        if len(names) != 1:
            listed = ", ".join(names[:10]) or "none"
            raise ModelNotConfigured(
                f"no model name given and {self.endpoint.describe()} serves {len(names)} models "
                f"({listed}); set CODEACT_MODEL or pass --model / model="
            )
        return names[0]

    async def _models_page(self) -> list[Any]:
        """One attempt at ``GET /models``: the models its reply lists (the JSON objects of
        its ``data``); a reply that is not such a list is a `BadReply` (asked for again)."""
        models = self._client.models.with_raw_response.list()
        response = await self._bounded(models, "GET", "models")
        text = response.http_response.text
        try:
            body = loads_within(text)
        except TooDeep as exc:
            raise BadReply("sent a list of models nested too deep to read") from exc
        except ValueError as exc:  # a 200 whose body is not JSON
            raise BadReply("sent a list of models that is not JSON", snippet(text)) from exc
        data = field_of(body, "data")
        if not isinstance(data, list):
            raise BadReply(
                'sent a list of models that is not one (a JSON object with a "data" list)',
                snippet(text),
            )
        return data

    async def aclose(self) -> None:
        """Close the running loop's connections (those of a loop that ended are closed)."""
        await self._clients.aclose()

    def __repr__(self) -> str:
        return f"OpenAIChat(model={self.model!r}, endpoint={self.endpoint.describe()!r})"


async def _close_client(client: openai.AsyncOpenAI) -> None:
    await client.close()
