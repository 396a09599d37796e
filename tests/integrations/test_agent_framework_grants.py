"""Files and network for the Agent Framework provider, with the reference's forms and meaning:
`workspace_root` and `file_mounts` as a read-only snapshot under /input, files written under
/output back as data contents, `allowed_domains` checked on the host for every request."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("agent_framework", reason="needs pip install -e '.[agent-framework]'")

from agent_framework import Agent, Message, SessionContext

from codeact.integrations.agent_framework import CodeActProvider, ExecuteCodeTool

from .af_scripted_client import ScriptedChatClient, run_code

pytestmark = pytest.mark.usefixtures("wasm_ready")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "workspace"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "todo.txt").write_text("buy milk")
    return root


async def test_a_link_in_the_workspace_is_refused_as_the_reference_refuses_it(
    workspace: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    (workspace / "notes" / "link-out").symlink_to(secret)
    provider = CodeActProvider(workspace_root=workspace)
    context = SessionContext(input_messages=[])
    with pytest.raises(ValueError, match=r"Refusing to stage linked .*link-out"):
        await provider.before_run(agent=None, session=None, context=context, state={})
    with pytest.raises(ValueError, match="grant its target with file_mounts"):
        await provider.execute_code_tool.run("print(open('/input/notes/link-out').read())")
    # Its target granted as a mount instead, the program reads it.
    (workspace / "notes" / "link-out").unlink()
    provider.add_file_mounts((secret, "notes/secret.txt"))
    result = await provider.execute_code_tool.run("print(open('/input/notes/secret.txt').read())")
    assert result.stdout == "do not read\n"


async def test_workspace_and_file_mounts_are_read_only_under_input(
    workspace: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data.json"
    data.write_text('{"rows": 3}')
    execute_code = ExecuteCodeTool(workspace_root=workspace, file_mounts=[(data, "cfg/data.json")])
    result = await execute_code.run(
        "import json, os\n"
        "print(open('/input/notes/todo.txt').read())\n"
        "print(json.load(open('/input/cfg/data.json'))['rows'])\n"
        "print(sorted(os.listdir('/input')))\n"
        "try:\n"
        "    open('/input/new.txt', 'w')\n"
        "except OSError as e:\n"
        "    print('read-only:', type(e).__name__)\n"
    )
    assert result.ok, result.to_model_text()
    lines = result.stdout.splitlines()
    assert lines[:3] == ["buy milk", "3", "['cfg', 'notes']"]
    assert lines[3].startswith("read-only:")
    assert "Read-only host files under /input" in execute_code.description
    assert "/input/cfg/data.json" in execute_code.description


async def test_the_snapshot_follows_changes_to_the_host_files(workspace: Path) -> None:
    execute_code = ExecuteCodeTool(workspace_root=workspace)
    first = await execute_code.run("open('/input/notes/todo.txt').read()")
    (workspace / "notes" / "todo.txt").write_text("buy bread and cheese")
    second = await execute_code.run("open('/input/notes/todo.txt').read()")
    assert (first.value, second.value) == ("buy milk", "buy bread and cheese")


async def test_files_written_under_output_come_back_as_data_contents() -> None:
    client = ScriptedChatClient(
        [
            run_code(
                "open('/output/report.csv', 'w').write('a,b\\n1,2\\n')\n"
                "open('/output/big.bin', 'wb').write(b'x' * 2048)\n"
                "print('written')"
            ),
            Message(role="assistant", contents=["done"]),
        ]
    )
    provider = CodeActProvider(max_output_file_bytes=1024)
    agent = Agent(client=client, context_providers=[provider])
    response = await agent.run("go")
    results = [c for m in response.messages for c in m.contents if c.type == "function_result"]
    items = results[0].items or []
    data = [c for c in items if c.type == "data"]
    assert [(c.additional_properties or {}).get("path") for c in data] == ["/output/report.csv"]
    # The reference's contents have no place for a file left out (over the file limit): it is
    # listed in codeact's extra facts, which code written for the reference does not read.
    assert str(results[0].result) == "written\n"
    (skipped,) = (items[0].additional_properties or {})["codeact"]["files_skipped"]
    assert "big.bin" in skipped


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # pragma: no cover - must never be reached
        raise AssertionError("a refused request reached the server")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


async def test_allowed_domains_allow_the_listed_methods_only(local_server: int) -> None:
    target = f"127.0.0.1:{local_server}"
    execute_code = ExecuteCodeTool(allowed_domains=[(target, "GET")])
    result = await execute_code.run(
        f"print(http_get('http://{target}/x').json())\n"
        "try:\n"
        f"    http_post('http://{target}/x', body='hi')\n"
        "except NetworkError as e:\n"
        "    print('refused:', e)\n"
        "try:\n"
        "    http_get('http://example.org/')\n"
        "except NetworkError as e:\n"
        "    print('refused:', e)\n"
    )
    assert result.ok, result.to_model_text()
    lines = result.stdout.splitlines()
    assert lines[0] == "{'ok': True}"
    assert lines[1].startswith("refused:") and "GET" in lines[1]
    assert lines[2].startswith("refused:") and "example.org" in lines[2]
    assert f"{target} (GET)" in execute_code.description
