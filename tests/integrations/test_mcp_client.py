"""MCP servers' tools inside the sandbox, with real MCP servers started as subprocesses."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp", reason="needs the mcp extra: pip install -e '.[mcp]'")

from codeact import CodeAct, ConfigurationError, IntegrationError, Limits
from codeact.integrations.mcp_client import mcp_tools

from .conftest import demo_server_command

pytestmark = pytest.mark.usefixtures("wasm_ready")


async def test_one_program_combines_tools_from_two_mcp_servers() -> None:
    async with (
        mcp_tools(demo_server_command("weather")) as weather,
        mcp_tools(demo_server_command("geo")) as geo,
    ):
        codeact = CodeAct(tools=[*weather, *geo], limits=Limits(wall_time=30))
        result = await codeact.execute(
            "rows = []\n"
            "for city in cities():\n"
            "    f = forecast(city=city)\n"
            "    rows.append((city, country_of(city), f['temperature'], "
            "distance_km(a='Paris', b=city)))\n"
            "for row in rows:\n"
            "    print(*row)\n"
            "len(rows)"
        )
    assert result.ok, result.to_model_text()
    assert result.stdout.splitlines() == [
        "Lyon FR 24.0 392.5",
        "Oslo NO 9.0 1341.2",
        "Paris FR 21.5 0.0",
    ]
    assert result.value == 3
    assert [c.name for c in result.tool_calls][:4] == [
        "cities",
        "forecast",
        "country_of",
        "distance_km",
    ]


async def test_mcp_tools_are_described_by_their_json_schemas() -> None:
    async with mcp_tools(demo_server_command("weather")) as weather:
        tools = {t.name: t for t in weather}
    assert set(tools) == {"forecast", "cities", "server_info"}  # "server-info" made callable
    forecast = tools["forecast"]
    assert forecast.signature == "forecast(city: str, unit: Literal['C', 'F'] = 'C') -> Forecast"
    assert "temperature: float" in forecast.definitions["Forecast"]
    assert forecast.description == "Today's temperature in a city."
    assert forecast.parameters["properties"]["city"]["description"] == "A city name, e.g. Paris"
    assert tools["cities"].signature == "cities() -> list[str]"


async def test_arguments_are_checked_on_the_host_and_server_errors_are_catchable() -> None:
    async with mcp_tools(demo_server_command("weather")) as weather:
        codeact = CodeAct(tools=list(weather), limits=Limits(wall_time=30))
        result = await codeact.execute(
            "for kwargs in ({'city': 'Atlantis'}, {'city': 'Paris', 'unit': 'K'}, {}):\n"
            "    try:\n"
            "        forecast(**kwargs)\n"
            "    except ToolError as e:\n"
            "        print(e)\n"
            "forecast('Oslo', 'F')['temperature']"
        )
    assert result.ok, result.to_model_text()
    lines = result.stdout.splitlines()
    assert "unknown city: Atlantis" in lines[0]
    assert "argument 'unit': 'K' is not one of ['C', 'F']" in lines[1]
    assert "missing required argument 'city'" in lines[2]
    assert result.value == 48.2
    # The two invalid calls never reached the server.
    assert [c.outcome for c in result.tool_calls] == ["error", "invalid", "invalid", "ok"]


def test_sync_use_with_execute_sync_and_the_server_process_is_reaped(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    with mcp_tools(
        demo_server_command("weather"), env={"CODEACT_TEST_PID_FILE": str(pid_file)}
    ) as weather:
        assert len(weather) == 3
        with CodeAct(tools=[*weather], limits=Limits(wall_time=30)) as codeact:
            first = codeact.execute_sync("forecast(city='Lyon')['temperature']")
            second = codeact.execute_sync("server_info()")
        pid = int(pid_file.read_text())
        _assert_alive(pid)
    assert first.ok and first.value == 24.0, first.to_model_text()
    assert second.ok and second.value == f"weather server, pid {pid}"
    assert weather.closed
    _assert_gone(pid)


def test_tools_are_listed_on_first_use_and_close_is_idempotent(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    weather = mcp_tools(
        demo_server_command("weather"), env={"CODEACT_TEST_PID_FILE": str(pid_file)}
    )
    assert not pid_file.exists()  # nothing started yet
    tools = [*weather]  # the form CodeAct(tools=[*mcp_tools(...)]) uses
    assert [t.name for t in tools] == ["forecast", "cities", "server_info"]
    pid = int(pid_file.read_text())
    weather.close()
    weather.close()
    _assert_gone(pid)
    with pytest.raises(IntegrationError, match="is closed"):
        weather.connect()


def test_tools_listed_from_several_threads_at_once_connect_once() -> None:
    weather = mcp_tools(demo_server_command("weather"))
    before = _mcp_threads()
    start = threading.Barrier(4)
    counts: list[int] = []

    def list_tools() -> None:
        start.wait()
        counts.append(len(weather.tools))

    threads = [threading.Thread(target=list_tools) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    made = _mcp_threads() - before
    weather.close()
    assert counts == [3] * 4
    assert len(made) == 1, f"{len(made)} sessions for one server"
    assert not any(t.is_alive() for t in made)


def _mcp_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "codeact-mcp" and t.is_alive()}


async def test_a_call_after_close_fails_in_the_guest_with_a_clear_message() -> None:
    weather = await mcp_tools(demo_server_command("weather")).aconnect()
    codeact = CodeAct(tools=[*weather], limits=Limits(wall_time=30))
    await weather.aclose()
    result = await codeact.execute("cities()")
    assert not result.ok
    assert result.error is not None and "is not connected" in result.error.message


async def test_prefix_include_and_exclude_select_and_rename_tools() -> None:
    async with mcp_tools(
        demo_server_command("weather"), prefix="wx_", include=["forecast", "cities"]
    ) as weather:
        assert [t.name for t in weather] == ["wx_forecast", "wx_cities"]
        codeact = CodeAct(tools=[*weather], limits=Limits(wall_time=30))
        result = await codeact.execute("wx_forecast(city=wx_cities()[0])['city']")
    assert result.ok and result.value == "Lyon", result.to_model_text()
    async with mcp_tools(demo_server_command("weather"), exclude=["server-info"]) as weather:
        assert [t.name for t in weather] == ["forecast", "cities"]


async def test_streamable_http_server_by_url(http_demo_server: str) -> None:
    async with mcp_tools(http_demo_server, headers={"X-Test": "1"}) as weather:
        codeact = CodeAct(tools=[*weather], limits=Limits(wall_time=30))
        result = await codeact.execute("[forecast(city=c)['temperature'] for c in cities()]")
    assert result.ok and result.value == [24.0, 9.0, 21.5], result.to_model_text()


def test_configuration_mistakes_are_clear_errors() -> None:
    with pytest.raises(ConfigurationError, match="cannot start the MCP server"):
        mcp_tools(["/nonexistent/mcp-server-binary"]).connect()
    with pytest.raises(ConfigurationError, match="has no tool named nope"):
        mcp_tools(demo_server_command("weather"), include=["nope"]).connect()
    with pytest.raises(ConfigurationError, match="env and cwd apply to stdio servers"):
        mcp_tools("http://127.0.0.1:9/mcp", env={"A": "1"})
    with pytest.raises(ConfigurationError, match="headers apply to a URL server"):
        mcp_tools("python server.py", headers={"A": "1"})
    with pytest.raises(ConfigurationError, match="prefix"):
        mcp_tools("python server.py", prefix="bad-prefix")


def test_a_server_that_exits_at_once_is_an_integration_error(tmp_path: Path) -> None:
    script = tmp_path / "broken_server.py"
    script.write_text("import sys\nsys.exit(3)\n")
    with pytest.raises(IntegrationError, match="could not connect to the MCP server"):
        mcp_tools([sys.executable, str(script)], connect_timeout=30).connect()


def _assert_alive(pid: int) -> None:
    os.kill(pid, 0)


def _assert_gone(pid: int) -> None:
    """The process has exited and been reaped (no zombie left behind)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} is still there")


def test_call_results_become_plain_values_by_documented_rules() -> None:
    import mcp_types as t

    from codeact.integrations.mcp.client import MCPToolError, _result_value

    def text(
        *parts: str, structured_content: Any = None, is_error: bool = False
    ) -> t.CallToolResult:
        return t.CallToolResult(
            content=[t.TextContent(type="text", text=p) for p in parts],
            structured_content=structured_content,
            is_error=is_error,
        )

    assert _result_value(text("plain"), unwrap=False) == "plain"
    assert _result_value(text("42"), unwrap=False) == "42"  # only objects and arrays are parsed
    assert _result_value(text('{"a": [1]}'), unwrap=False) == {"a": [1]}
    assert _result_value(text("[1, 2"), unwrap=False) == "[1, 2"
    assert _result_value(text("a", "b"), unwrap=False) == "a\nb"
    wrapped = text("5", structured_content={"result": 5})
    assert _result_value(wrapped, unwrap=True) == 5
    assert _result_value(wrapped, unwrap=False) == {"result": 5}
    image = t.CallToolResult(
        content=[t.ImageContent(type="image", data="AAAA", mime_type="image/png")]
    )
    assert _result_value(image, unwrap=False) == [
        {"type": "image", "data": "AAAA", "mimeType": "image/png"}
    ]
    with pytest.raises(MCPToolError, match="quota exceeded"):
        _result_value(text("quota exceeded", is_error=True), unwrap=False)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")
def test_a_server_that_never_answers_is_stopped_when_the_connect_times_out(
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "pid"
    silent = (
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(600)"
    )
    started = time.monotonic()
    with pytest.raises(IntegrationError, match=r"did not answer within 2s \(connect_timeout\)"):
        CodeAct(tools=[*mcp_tools([sys.executable, "-c", silent], connect_timeout=2)])
    assert time.monotonic() - started < 2 + 8  # was: 2 s + 10 s of waiting on close
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(pid)  # was: left running (and it held up the interpreter's exit)


async def test_tools_whose_python_names_collide_are_refused_with_what_to_do() -> None:
    with pytest.raises(ConfigurationError, match=r"get_forecast.*exclude=") as caught:
        await mcp_tools(demo_server_command("edge")).aconnect()
    assert "@tool(name=" not in str(caught.value)
    async with mcp_tools(demo_server_command("edge"), exclude=["get_forecast"]) as edge:
        codeact = CodeAct(tools=[*edge], limits=Limits(wall_time=30))
        result = await codeact.execute("get_forecast(city='Oslo')")
    assert result.ok and result.value == "hyphen Oslo", result.to_model_text()


async def test_only_a_wrapped_value_is_unwrapped_not_a_model_with_a_result_field() -> None:
    async with mcp_tools(demo_server_command("edge"), include=["counted", "plain"]) as edge:
        codeact = CodeAct(tools=[*edge], limits=Limits(wall_time=30))
        result = await codeact.execute("[counted(x=5), plain(x=5)]")
    assert result.ok and result.value == [{"result": 5}, 5], result.to_model_text()


async def test_a_tool_named_as_pythons_own_names_does_not_replace_them() -> None:
    """A server's tool named ``__builtins__`` replaced the program's builtins: every program
    calling print or len failed."""
    async with mcp_tools(demo_server_command("edge"), include=["__builtins__"]) as edge:
        assert [t.name for t in edge] == ["tool__builtins__"]
        codeact = CodeAct(tools=[*edge], limits=Limits(wall_time=30))
        result = await codeact.execute("print(len('ab'))\ntool__builtins__(x=4)")
    assert result.ok and result.value == 8 and result.stdout == "2\n", result.to_model_text()


def test_a_tool_named_twice_across_servers_is_refused_with_what_to_do() -> None:
    from codeact import tool

    @tool
    def forecast(city: str) -> str:
        """Forecast."""
        return city

    with pytest.raises(ConfigurationError, match=r"prefix=.*exclude="):
        CodeAct(tools=[forecast, forecast.fn])


async def test_a_program_may_pass_only_the_names_a_server_tool_declares() -> None:
    code = "try:\n    forecast(city='Paris', token='forged')\nexcept ToolError as e:\n    print(e)"
    async with mcp_tools(demo_server_command("weather")) as weather:
        result = await CodeAct(tools=[*weather], limits=Limits(wall_time=30)).execute(code)
    assert "invalid arguments for forecast(): unexpected argument 'token'" in result.stdout
    assert [c.outcome for c in result.tool_calls] == ["invalid"]  # the server never saw it
