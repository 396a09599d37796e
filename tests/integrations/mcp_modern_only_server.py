"""A streamable HTTP MCP server that refuses the initialize handshake (protocol 2026-07-28
only): ``python mcp_modern_only_server.py PORT``."""

from __future__ import annotations

import json
import sys
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer

server = MCPServer("modern-only", log_level="WARNING")


@server.tool()
def double(x: int) -> int:
    return 2 * x


inner = server.streamable_http_app()


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "http" and scope["method"] == "POST":
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            method = json.loads(body).get("method")
        except ValueError:
            method = None
        if method == "initialize":
            error = {"code": -32600, "message": "handshake not supported"}
            reply = json.dumps({"jsonrpc": "2.0", "id": json.loads(body)["id"], "error": error})
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 400, "headers": headers})
            await send({"type": "http.response.body", "body": reply.encode()})
            return
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await inner(scope, replay, send)
        return
    await inner(scope, receive, send)


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
