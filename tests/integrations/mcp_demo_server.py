"""A small MCP server for the tests, run as a subprocess: ``python mcp_demo_server.py KIND``.

KIND is ``weather`` (forecast, cities), ``geo`` (distance_km, country_of) or ``edge`` (names
and output schemas that are easy to misread). With
``--http PORT`` it serves streamable HTTP on 127.0.0.1 instead of stdio. If the environment has
CODEACT_TEST_PID_FILE, the server writes its process id there (so a test can check it ended).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

TEMPERATURES = {"Paris": 21.5, "Lyon": 24.0, "Oslo": 9.0}
COORDINATES = {"Paris": (48.86, 2.35), "Lyon": (45.76, 4.84), "Oslo": (59.91, 10.75)}
COUNTRIES = {"Paris": "FR", "Lyon": "FR", "Oslo": "NO"}


class Forecast(TypedDict):
    city: str
    temperature: float
    unit: Literal["C", "F"]


def weather_server() -> MCPServer:
    server = MCPServer("weather", log_level="WARNING")

    @server.tool()
    def forecast(
        city: Annotated[str, Field(description="A city name, e.g. Paris")],
        unit: Literal["C", "F"] = "C",
    ) -> Forecast:
        """Today's temperature in a city."""
        if city not in TEMPERATURES:
            raise ToolError(f"unknown city: {city}")
        celsius = TEMPERATURES[city]
        value = celsius if unit == "C" else round(celsius * 9 / 5 + 32, 1)
        return {"city": city, "temperature": value, "unit": unit}

    @server.tool()
    def cities() -> list[str]:
        """The cities this server knows."""
        return sorted(TEMPERATURES)

    @server.tool(name="server-info")
    def server_info() -> str:
        """A tool whose MCP name is not a Python identifier."""
        return f"weather server, pid {os.getpid()}"

    return server


def geo_server() -> MCPServer:
    server = MCPServer("geo", log_level="WARNING")

    @server.tool()
    def distance_km(a: str, b: str) -> float:
        """Great-circle distance between two cities, in km."""
        from math import asin, cos, radians, sin, sqrt

        (lat1, lon1), (lat2, lon2) = COORDINATES[a], COORDINATES[b]
        h = (
            sin(radians(lat2 - lat1) / 2) ** 2
            + cos(radians(lat1)) * cos(radians(lat2)) * sin(radians(lon2 - lon1) / 2) ** 2
        )
        return round(2 * 6371 * asin(sqrt(h)), 1)

    @server.tool()
    def country_of(city: str) -> str:
        """ISO code of the country a city is in."""
        return COUNTRIES[city]

    return server


class Counted(BaseModel):
    """A tool's own output model whose only field is named ``result``."""

    result: int


def edge_server() -> MCPServer:
    server = MCPServer("edge", log_level="WARNING")

    @server.tool()
    def counted(x: int) -> Counted:
        """Returns a model whose only field is `result` (not a wrapped value)."""
        return Counted(result=x)

    @server.tool()
    def plain(x: int) -> int:
        """Returns an int, which the server wraps as {"result": x}."""
        return x

    @server.tool(name="get-forecast")
    def hyphenated(city: str) -> str:
        """Its Python name is get_forecast."""
        return "hyphen " + city

    @server.tool(name="get_forecast")
    def underscored(city: str) -> str:
        """So is this one's."""
        return "underscore " + city

    @server.tool(name="__builtins__")
    def dunder(x: int) -> int:
        """A name a program's globals hold: its Python name is tool__builtins__."""
        return x * 2

    return server


def main(argv: list[str]) -> None:
    kind = argv[0] if argv else "weather"
    servers = {"weather": weather_server, "geo": geo_server, "edge": edge_server}
    server = servers[kind]()
    pid_file = os.environ.get("CODEACT_TEST_PID_FILE")
    if pid_file:
        with open(pid_file, "w") as f:
            f.write(str(os.getpid()))
    if "--http" in argv:
        port = int(argv[argv.index("--http") + 1])
        server.run("streamable-http", host="127.0.0.1", port=port)
    else:
        server.run()


if __name__ == "__main__":
    main(sys.argv[1:])
