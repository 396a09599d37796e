"""Resolving packages on the host: pinned, hashed, cached, and one clear error for bad input.

Every test uses a wheelhouse built by the test (no network) and a cache of its own.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from codeact import CodeAct
from codeact.errors import ConfigurationError
from codeact.policy.packages import is_pure_wheel
from codeact.sandbox import MockBackend
from codeact.sandbox.packages import cached_grants, remove_cached, resolve_packages
from codeact.sandbox.packages import pip as pip_module


@pytest.fixture
def house(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wheelhouse_builder: Callable[[Path], Path]
) -> Path:
    monkeypatch.setenv("CODEACT_CACHE_DIR", str(tmp_path / "cache"))
    return wheelhouse_builder(tmp_path / "wheels")


def test_wheels_are_pinned_hashed_and_installed(house: Path) -> None:
    grant = resolve_packages(["tinyfmt"], target="wasm", wheelhouse=house)
    assert grant.versions() == ["tinycalc==1.0", "tinyfmt==1.0"]  # the dependency came too
    assert grant.imports == ("tinyfmt",)
    assert set(grant.modules) == {"tinycalc", "tinyfmt"}
    assert (Path(grant.tree) / "tinyfmt.py").is_file()
    lock = json.loads((Path(grant.tree).parent / "lock.json").read_text())
    for pin in grant.pins:
        assert len(pin.sha256) == 64
        assert {
            "name": pin.name,
            "version": pin.version,
            "wheel": pin.wheel,
            "sha256": pin.sha256,
        } in lock["pins"]


def test_the_next_configuration_uses_the_pinned_entry_without_pip(
    house: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = resolve_packages(["tinyfmt"], target="wasm", wheelhouse=house)

    def no_pip(*args: object, **kwargs: object) -> None:
        raise AssertionError("pip ran again")

    monkeypatch.setattr(pip_module, "download", no_pip)
    again = resolve_packages(["tinyfmt"], target="wasm", wheelhouse=house)
    assert again.tree == first.tree and again.pins == first.pins
    assert [g.key for g in cached_grants()] == [first.key]


def test_a_wheel_that_fails_its_hash_is_one_clear_error(house: Path) -> None:
    grant = resolve_packages(["tinyfmt"], target="wasm", wheelhouse=house)
    wheel = Path(grant.tree).parent / "wheels" / grant.pins[0].wheel
    wheel.write_bytes(wheel.read_bytes() + b"tampered")
    with pytest.raises(ConfigurationError, match=r"fails its hash") as info:
        resolve_packages(["tinyfmt"], target="wasm", wheelhouse=house)
    assert "\n" not in str(info.value) and grant.pins[0].wheel in str(info.value)
    assert remove_cached(grant.key[:12]) == [grant.key]
    assert resolve_packages(["tinyfmt"], target="wasm", wheelhouse=house).versions()


def test_a_native_package_is_refused_for_wasm_by_name(house: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve_packages(["tinynative"], target="wasm", wheelhouse=house)
    message = str(info.value)
    assert "tinynative" in message and "native code" in message and "backend='jail'" in message
    # The jail runs this host's Python: the same wheel is fine there.
    assert resolve_packages(["tinynative"], target="jail", wheelhouse=house).imports == (
        "tinynative",
    )


def test_an_unknown_package_is_one_clear_error(house: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"no wheel for nosuchpackage") as info:
        resolve_packages(["nosuchpackage"], target="wasm", wheelhouse=house)
    assert "\n" not in str(info.value)


def test_a_version_conflict_is_one_clear_error(house: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"conflict") as info:
        resolve_packages(["tinyfmt", "tinycalc==2.0"], target="wasm", wheelhouse=house)
    assert "tinycalc<2" in str(info.value) and "\n" not in str(info.value)


def test_no_route_to_the_index_is_one_clear_error(
    house: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # none of this machine's pip settings
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{port}/simple")
    monkeypatch.setenv("PIP_RETRIES", "1")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX", "PIP_CONSTRAINT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match=r"cannot reach the package index") as info:
        resolve_packages(["tabulate"], target="wasm")
    assert "--find-links" in str(info.value)


@pytest.mark.parametrize("bad", ["--index-url=http://x", "tabulate; os_name", "", "a b", "../x"])
def test_anything_but_a_requirement_is_refused(house: Path, bad: str) -> None:
    with pytest.raises(ConfigurationError, match=r"is not a requirement"):
        resolve_packages([bad], target="wasm", wheelhouse=house)


def test_a_string_is_not_a_list_of_packages(house: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"list of requirements"):
        resolve_packages("tinyfmt", target="wasm", wheelhouse=house)  # a str is Iterable: refused


def test_a_backend_that_cannot_grant_packages_says_so(house: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"cannot grant packages.*backend='jail'"):
        CodeAct(
            backend=MockBackend(lambda code, call_tool: None),
            packages=["tinyfmt"],
            packages_wheelhouse=house,
        )


def test_a_grant_for_another_backend_is_refused(house: Path) -> None:
    grant = resolve_packages(["tinyfmt"], target="jail", wheelhouse=house)
    with pytest.raises(ConfigurationError, match=r"installed for 'jail'"):
        CodeAct(backend="wasm", packages=grant)


@pytest.mark.parametrize(
    ("name", "pure"),
    [
        ("tabulate-0.9.0-py3-none-any.whl", True),
        ("six-1.16.0-py2.py3-none-any.whl", True),
        ("numpy-2.1.0-cp311-cp311-manylinux_2_17_x86_64.whl", False),
        ("cffi-1.0-py3-abi3-linux_x86_64.whl", False),
        ("old-1.0-py2-none-any.whl", False),
    ],
)
def test_pure_wheels_are_told_by_their_tags(name: str, pure: bool) -> None:
    assert is_pure_wheel(name) is pure


def test_wasm_resolves_for_the_guest_python_and_pure_wheels_not_the_host(
    house: Path, wheel_maker: Callable[..., Path], host_wheel_tag: str
) -> None:
    # What the host's Python would pick differs from what the guest (CPython 3.14, pure
    # Python) can use: a native wheel beside a pure one, a version floor above the host's
    # Python, a ceiling the guest is above. (pip still evaluates environment markers for the
    # host's Python: a dependency only older Pythons need comes too, harmlessly.)
    wheel_maker(house, "tinydual", "1.0", {"tinydual.py": "KIND = 'pure'\n"})
    wheel_maker(house, "tinydual", "1.0", {"tinydual.py": "KIND = 'native'\n"}, tag=host_wheel_tag)
    wheel_maker(house, "tinynew", "1.0", {"tinynew.py": "X = 1\n"}, requires_python=">=3.14")
    wheel_maker(house, "tinylegacy", "1.0", {"tinylegacy.py": "X = 1\n"}, requires_python="<3.12")

    grant = resolve_packages(["tinydual", "tinynew"], target="wasm", wheelhouse=house)
    assert grant.versions() == ["tinydual==1.0", "tinynew==1.0"]
    assert all(p.wheel.endswith("-py3-none-any.whl") for p in grant.pins)
    assert (Path(grant.tree) / "tinydual.py").read_text() == "KIND = 'pure'\n"
    with pytest.raises(ConfigurationError, match="tinylegacy") as info:
        resolve_packages(["tinylegacy"], target="wasm", wheelhouse=house)
    assert "requires a different Python: 3.14" in str(info.value)
    assert "\n" not in str(info.value)

    # The jail keeps this host's own Python and platform.
    jail = resolve_packages(["tinydual"], target="jail", wheelhouse=house)
    assert [p.wheel for p in jail.pins] == [f"tinydual-1.0-{host_wheel_tag}.whl"]
    if sys.version_info < (3, 14):
        with pytest.raises(ConfigurationError, match="tinynew' requires a different Python"):
            resolve_packages(["tinynew"], target="jail", wheelhouse=house)
