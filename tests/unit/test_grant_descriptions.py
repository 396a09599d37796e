"""What the model is told about files and network: exactly the grants, with modes and methods."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codeact import AllowedDomain, CodeAct, MockBackend, Mount, OutputLimits, tool


@tool
def lookup(key: str) -> str:
    """Look a key up."""
    return key


def make(**kwargs: Any) -> CodeAct:
    return CodeAct(
        tools=[lookup],
        backend=MockBackend(lambda code, call_tool: None),
        **kwargs,
    )


def test_the_description_lists_mounts_domains_and_who_is_bound(tmp_path: Path) -> None:
    for name in ("data", "scratch", "project"):
        (tmp_path / name).mkdir()
    codeact = make(
        file_mounts=[
            (tmp_path / "data", "/data"),
            Mount(tmp_path / "scratch", "/scratch", mode="rw"),
        ],
        workspace_root=tmp_path / "project",
        allowed_domains=[
            "api.github.com",
            ("internal.api.example.com", "GET"),
            AllowedDomain("*.example.org", methods=("GET", "POST")),
        ],
        output_limits=OutputLimits(max_files=5, max_file_bytes=2 << 20),
    )
    text = codeact.tool_description()
    assert (
        "Host directories in the sandbox: /input (read-only), /data (read-only), "
        "/scratch (read-write); nothing else of the host's files exists there." in text
    )
    assert "under /output are handed back after the run (at most 5 files, 2 MiB each)" in text
    assert (
        "Network: HTTP(S) only to api.github.com (any method); internal.api.example.com (GET); "
        "*.example.org (GET, POST)." in text
    )
    assert "http_get(url, headers=None, params=None)" in text
    assert "urllib.request.urlopen works too" in text
    assert "the functions listed above run on the host and are not bound by them" in text
    assert "- lookup(key: str) -> str: Look a key up." in text
    assert codeact.execute_code_tool().description == text
    assert "can use the host directories and web addresses its description lists" in (
        codeact.build_instructions()
    )


def test_without_grants_the_description_says_there_is_nothing() -> None:
    codeact = make()
    text = codeact.tool_description()
    assert "It has no host files." in text
    assert "It has no network access." in text
    assert "Files written under /output are handed back" in text
    assert "not bound" not in text
    assert "web addresses" not in codeact.build_instructions()


def test_the_description_follows_changes(tmp_path: Path) -> None:
    codeact = make()
    codeact.add_allowed_domains(("api.example.com", "GET"))
    codeact.add_file_mounts((tmp_path, "/data"))
    text = codeact.tool_description()
    assert "api.example.com (GET)" in text and "/data (read-only)" in text
    codeact.clear_allowed_domains()
    codeact.clear_file_mounts()
    assert "It has no network access." in codeact.tool_description()
