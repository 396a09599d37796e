"""Chat clients behind one small protocol: `Message`, `ToolDefinition`, `ChatResponse`.

>>> from codeact.chat import Message, OpenAIChat
"""

from __future__ import annotations

from .default import default_client
from .endpoint import Endpoint, endpoint_configured, resolve_endpoint
from .fallback import parse_text_tool_calls
from .local import LocalChat, LocalModel, local_model_installed
from .messages import (
    ChatClient,
    ChatResponse,
    Message,
    ResponseFormat,
    Role,
    ToolCall,
    ToolDefinition,
    Usage,
)
from .model_files import EMBEDDED_MODEL, ModelFileError, ModelSpec, ensure_model
from .openai_chat import OpenAIChat

__all__ = [
    "EMBEDDED_MODEL",
    "ChatClient",
    "ChatResponse",
    "Endpoint",
    "LocalChat",
    "LocalModel",
    "Message",
    "ModelFileError",
    "ModelSpec",
    "OpenAIChat",
    "ResponseFormat",
    "Role",
    "ToolCall",
    "ToolDefinition",
    "Usage",
    "default_client",
    "endpoint_configured",
    "ensure_model",
    "local_model_installed",
    "parse_text_tool_calls",
    "resolve_endpoint",
]
