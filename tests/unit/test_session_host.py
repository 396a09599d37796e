"""The host's side of sessions: it never deserializes a state, seals what it keeps, refuses
what it did not seal, and checks every field a guest reports."""

from __future__ import annotations

import ast
import base64
from pathlib import Path
from typing import Any

import pytest

import codeact
from codeact import CodeAct, ConfigurationError, MockBackend, SessionStateError
from codeact.bridge.protocol import RunOutcome, RunRequest
from codeact.bridge.state import GuestState, StateCarry, report_allowance
from codeact.runtime import session_state

ROOT = Path(codeact.__file__).parent

#: Modules that turn bytes into live objects (and so can run code while doing it).
DESERIALIZERS = {"pickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle", "copyreg"}
DESERIALIZERS |= {"jsonpickle", "joblib", "pickletools", "dbm"}


def _host_modules() -> list[Path]:
    files = [p for p in ROOT.rglob("*.py") if "guest" not in p.relative_to(ROOT).parts]
    assert len(files) > 50
    return files


def _deserializer_uses(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        elif isinstance(node, ast.Call) and node.args:
            # __import__("pickle"), importlib.import_module("pickle")
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if called in ("__import__", "import_module") and isinstance(first, ast.Constant):
                names = [str(first.value)]
        found += [n for n in names if n.partition(".")[0] in DESERIALIZERS]
    return found


def test_no_host_module_imports_a_deserializer() -> None:
    """Only the sandbox's own code (sandbox/guest/) may unpickle a session's state."""
    uses = {}
    for path in _host_modules():
        found = _deserializer_uses(path.read_text(encoding="utf-8"))
        if found:
            uses[path.relative_to(ROOT).as_posix()] = found
    assert uses == {}


def test_the_check_sees_every_way_of_importing_one() -> None:
    source = (
        "import pickle\nfrom marshal import loads\nimport shelve as s\n"
        "__import__('dill')\nimportlib.import_module('cloudpickle')\nimport json\n"
    )
    assert _deserializer_uses(source) == ["pickle", "marshal", "shelve", "dill", "cloudpickle"]


def test_the_guest_is_where_the_state_is_unpickled() -> None:
    guest = ROOT / "sandbox" / "guest" / "runtime" / "codeact_lazy.py"  # Pending unpickles
    assert "pickle" in _deserializer_uses(guest.read_text(encoding="utf-8"))


# -- sealing ---------------------------------------------------------------------------------
KEY = b"k" * 32


def _sealed(payload: bytes = b"guest bytes", **changes: Any) -> bytes:
    args: dict[str, Any] = {"names": ("x",), "backend": "wasm", "key": KEY, **changes}
    return session_state.seal(payload, **args)


def test_a_sealed_state_unseals_to_the_same_bytes_and_names() -> None:
    sealed = session_state.unseal(_sealed(), backend="wasm", key=KEY)
    assert sealed.payload == b"guest bytes" and sealed.names == ("x",)
    assert session_state.unseal(_sealed(b""), backend="wasm", key=KEY).payload is None


@pytest.mark.parametrize("char", ["x", "\u6570", "\U0001f600"])
def test_a_seal_adds_at_most_sealing_bytes_whatever_the_names(char: str) -> None:
    # The most names a guest's report keeps, each as long as a kept name may be.
    names = tuple(char * 195 + f"{i:05d}" for i in range(10_000))
    sealed = _sealed(b"x" * 1000, names=names, left_out=7)
    # was: every name repeated in the header as ASCII escapes (12 bytes an emoji): 23 MB
    assert len(sealed) - 1000 <= session_state.SEALING_BYTES
    back = session_state.unseal(sealed, backend="wasm", key=KEY)
    assert back.payload == b"x" * 1000 and 0 < len(back.names) < 10_000
    assert back.names == names[: len(back.names)]
    assert len(back.names) + back.left_out == 10_007


def test_a_guest_that_lists_more_names_than_a_report_keeps_has_them_counted() -> None:
    names = [f"v{i}" for i in range(12_345)]
    state = GuestState.from_guest({"state": "", "names": names}, limit=1024)
    # was: cut at 10,000 and nothing said so
    assert state is not None and len(state.names) == 10_000 and state.names_left_out == 2_345


@pytest.mark.parametrize("position", [0, 20, 40, -40, -1])
def test_any_changed_byte_is_refused(position: int) -> None:
    data = bytearray(_sealed())
    data[position] ^= 0x01
    with pytest.raises(SessionStateError) as info:
        session_state.unseal(bytes(data), backend="wasm", key=KEY)
    assert "\n" not in str(info.value)


def test_other_keys_versions_formats_and_backends_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(SessionStateError, match=r"integrity check.*another key"):
        session_state.unseal(_sealed(), backend="wasm", key=b"o" * 32)
    with pytest.raises(SessionStateError, match=r"saved on the 'jail' backend.*'wasm'"):
        session_state.unseal(_sealed(backend="jail"), backend="wasm", key=KEY)
    monkeypatch.setattr(session_state, "VERSION", "0.0.1")
    old = _sealed()
    monkeypatch.undo()
    with pytest.raises(SessionStateError, match=r"saved by codeact 0\.0\.1; this is codeact"):
        session_state.unseal(old, backend="wasm", key=KEY)
    monkeypatch.setattr(session_state, "GUEST_FORMAT", "0123456789abcdef")
    other_guest = _sealed()
    monkeypatch.undo()
    with pytest.raises(SessionStateError, match="another build of codeact's sandbox"):
        session_state.unseal(other_guest, backend="wasm", key=KEY)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        ("text", "a session state is bytes"),
        (None, "a session state is bytes"),
        (b"", "not a codeact session state"),
        (b"\x80\x04\x95", "not a codeact session state"),
    ],
)
def test_what_is_not_a_state_is_refused_in_one_line(blob: object, message: str) -> None:
    with pytest.raises(SessionStateError, match=message):
        session_state.unseal(blob, backend="wasm", key=KEY)


def test_keys_are_checked() -> None:
    assert session_state.check_key(bytearray(16)) == bytes(16)
    with pytest.raises(ConfigurationError, match="at least 16 bytes"):
        session_state.check_key(b"short")
    with pytest.raises(ConfigurationError, match="key must be bytes"):
        session_state.check_key("a password")


def test_a_backend_that_runs_no_guest_cannot_keep_a_session() -> None:
    codeact = CodeAct(backend=MockBackend(lambda code, call_tool: None))
    with pytest.raises(ConfigurationError, match="cannot keep a session's state"):
        codeact.session()


# -- what crosses the boundary ------------------------------------------------------------------
def test_the_request_carries_the_state_as_base64_only_for_a_session() -> None:
    assert '"session"' not in RunRequest(code="1").to_guest_json()
    carried = RunRequest(code="1", state=StateCarry(b"\x00\x01", 1024)).to_guest_json()
    assert '"session": {"state": "AAE=", "limit": 1024, ' in carried


def _report(session: object) -> str:
    import json

    return json.dumps({"session": session})


def test_a_guest_report_is_checked_field_by_field() -> None:
    carry = StateCarry(None, 1024)
    good = {
        "state": base64.b64encode(b"abc").decode(),
        "names": ["x", 3, "y" * 1000],
        "dropped": [["f", "why"], ["bad"], [1, 2], "no"],
        "restore_ms": "slow",
        "save_ms": 1.5,
    }
    outcome = RunOutcome.from_guest_json(_report(good), max_chars=1000, state=carry)
    state = outcome.state
    assert state is not None and state.state == b"abc" and state.size == 3
    assert state.names[0] == "x" and len(state.names) == 2 and len(state.names[1]) == 200
    assert state.dropped == (("f", "why"),)
    assert (state.restore_ms, state.save_ms) == (0.0, 1.5)


def test_a_state_over_the_limit_is_refused_whatever_the_guest_says() -> None:
    raw = {"state": base64.b64encode(b"x" * 2000).decode(), "size": 10}
    state = GuestState.from_guest(raw, limit=1024)
    assert state is not None and state.state is None and state.over == 2000
    bad = GuestState.from_guest({"state": "not base64!"}, limit=1024)
    assert bad is not None and bad.state is None and bad.failed
    assert GuestState.from_guest("nonsense", limit=1024) is None


def test_a_report_may_grow_only_by_the_state_a_session_allows() -> None:
    report = _report({"state": base64.b64encode(b"x" * 3000).decode()})
    assert RunOutcome.from_guest_json(report, max_chars=100).error is not None
    allowed = RunOutcome.from_guest_json(report, max_chars=100, state=StateCarry(None, 4096))
    assert allowed.error is None and allowed.state is not None
    assert report_allowance(None) == 0
    assert report_allowance(StateCarry(None, 3 << 20)) >= 4 << 20


def test_the_raw_form_carries_every_byte_after_the_json_both_ways() -> None:
    every_byte = bytes(range(256)) * 2
    request = RunRequest(code="1", state=StateCarry(every_byte, 4096)).to_guest_json(raw_state=True)
    head, nul, tail = request.partition("\x00")
    assert nul and '"raw": true' in head and tail.encode("latin-1") == every_byte
    report = _report({"state": None, "names": ["x"]}) + "\x00" + every_byte.decode("latin-1")
    outcome = RunOutcome.from_guest_json(report, max_chars=200, state=StateCarry(None, 4096))
    assert outcome.error is None and outcome.state is not None
    assert outcome.state.state == every_byte and outcome.state.names == ("x",)
    too_big = RunOutcome.from_guest_json(report, max_chars=200, state=StateCarry(None, 100))
    assert too_big.state is not None and too_big.state.state is None
    assert too_big.state.over == len(every_byte)
    not_bytes = RunOutcome.from_guest_json(
        _report({}) + "\x00\u20ac", max_chars=200, state=StateCarry(None, 100)
    )
    assert not_bytes.state is not None and not_bytes.state.failed
