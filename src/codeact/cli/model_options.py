"""`--model` and `--base-url`, shared by the commands that talk to a model."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import click

from .._progress import report
from ..chat.default import default_client
from ..chat.local import LocalChat
from ..chat.messages import ChatClient
from ..errors import UserError

__all__ = ["client_from_options", "model_options", "start_model"]

F = TypeVar("F", bound=Callable[..., Any])


def model_options(fn: F) -> F:
    fn = click.option(
        "--base-url",
        metavar="URL",
        default=None,
        help="An OpenAI-compatible endpoint (default: OPENAI_BASE_URL, OPENAI_API_KEY, Azure's "
        "variables, else the embedded model).",
    )(fn)
    fn = click.option(
        "--model",
        metavar="local|NAME",
        default=None,
        help="'local' for the embedded model, or a model name for the endpoint "
        "(default: CODEACT_MODEL).",
    )(fn)
    return fn


def client_from_options(model: str | None, base_url: str | None) -> ChatClient:
    """The chat client the flags and the environment ask for (status lines go to stderr)."""
    if model == "local" and base_url:
        raise UserError("--model local runs the embedded model; leave out --base-url")
    return default_client(
        model=model,
        base_url=base_url,
        progress=report,  # the progress display while one is shown, else stderr lines
    )


async def start_model(client: ChatClient) -> None:
    """Start the embedded model now, so its load time is not counted as the first turn."""
    if isinstance(client, LocalChat):
        started = time.perf_counter()
        await client.start()
        click.echo(f"codeact: the model is ready ({time.perf_counter() - started:.1f} s)", err=True)
