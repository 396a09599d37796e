"""A session's state as the user holds it: the guest's opaque bytes, sealed by the host.

The bytes a guest hands back are the guest's business: the host never deserializes them (this
module, like every host module, imports no pickle, marshal or shelve; a test checks it). What
the host adds is a seal, so that whatever it hands to a sandbox is exactly what a sandbox of
the same session produced:

    MAGIC, 4-byte big-endian header length, header JSON, the guest's bytes, HMAC-SHA256 tag

The header says who made the bytes (codeact's version, the guest's state format, the backend)
and which names they hold; the tag, keyed with a secret the sandbox never sees, covers
everything before it. A state is restored only with the key it was sealed with: by default
a random key of this process, so a state restores into any session of this process; pass the
same ``key=`` to save in one process and restore in another (`codeact exec --session` keeps
one in the user's cache). Bytes changed by anyone, sealed with another key, or made by another
codeact or backend are refused with a `SessionStateError` before a sandbox sees them.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.metadata
import json
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigurationError, SessionStateError

__all__ = [
    "GUEST_FORMAT",
    "SEALING_BYTES",
    "Sealed",
    "check_key",
    "process_key",
    "seal",
    "unseal",
]

MAGIC = b"codeact-session\x00"
_LENGTH = struct.Struct(">I")
_TAG = 32
_MIN_KEY = 16
_KEY = secrets.token_bytes(32)
#: The most bytes a seal adds to the guest's bytes (which `Limits.state_bytes` bounds): a
#: reader of sealed states (`codeact exec --session`) allows the limit and this, no more.
#: The header's list of names is cut to fit; the header says how many it left out.
SEALING_BYTES = 1 << 20
_HEADER_ROOM = SEALING_BYTES - len(MAGIC) - _LENGTH.size - _TAG
_NAMES_ROOM = _HEADER_ROOM - 4096  # the rest of the header: versions, backend, the count

#: The guest's state format: its code is the format, so a hash of it names the format
#: (codeact_tools holds the functions that pickle rebuilds a ToolResult and a ToolError with).
_GUEST_RUNTIME = Path(__file__).resolve().parent.parent / "sandbox/guest/runtime"
GUEST_FORMAT = hashlib.sha256(
    b"".join(
        (_GUEST_RUNTIME / name).read_bytes()
        for name in ("codeact_state.py", "codeact_lazy.py", "codeact_save.py", "codeact_tools.py")
    )
).hexdigest()[:16]


def _codeact_version() -> str:
    try:
        return importlib.metadata.version("codeact")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a checkout
        return "unknown"


VERSION = _codeact_version()


def process_key() -> bytes:
    """The key of this process: random, never written anywhere, never seen by a sandbox."""
    return _KEY


def check_key(key: object) -> bytes:
    """`key` as bytes, if it is a usable key (at least 16 bytes)."""
    if isinstance(key, str) or not isinstance(key, (bytes, bytearray, memoryview)):
        raise ConfigurationError(
            f"key must be bytes (e.g. secrets.token_bytes(32)), got {type(key).__name__}"
        )
    key = bytes(key)
    if len(key) < _MIN_KEY:
        raise ConfigurationError(f"key must be at least {_MIN_KEY} bytes long, got {len(key)}")
    return key


@dataclass(frozen=True)
class Sealed:
    """What `unseal` found: the guest's bytes (None: an empty state) and the names they hold."""

    payload: bytes | None
    names: tuple[str, ...]
    left_out: int = 0  # names the state holds beyond `names`


def seal(
    payload: bytes | None,
    *,
    names: tuple[str, ...],
    backend: str,
    key: bytes,
    left_out: int = 0,
) -> bytes:
    """The guest's `payload` with a header and a tag: the bytes of `Session.state`. The
    seal adds at most `SEALING_BYTES`: the names that do not fit in it are counted in the
    header's ``left_out`` (with `left_out`, those the caller already left out), not listed."""
    listed: list[str] = []
    room = _NAMES_ROOM
    for name in names:
        try:
            room -= len(json.dumps(name, ensure_ascii=False).encode("utf-8")) + 1
        except UnicodeEncodeError:  # a lone surrogate: no identifier has one
            room = -1
        if room < 0:
            break
        listed.append(name)
    fields: dict[str, object] = {"codeact": VERSION, "guest": GUEST_FORMAT, "backend": backend}
    fields |= {"names": listed, "left_out": left_out + len(names) - len(listed)}
    header = json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(header) > _HEADER_ROOM:  # by construction never; a limit kept whatever changes
        raise ValueError(f"a session state's header of {len(header)} bytes does not fit its seal")
    body = MAGIC + _LENGTH.pack(len(header)) + header + (payload or b"")
    return body + hmac.new(key, body, hashlib.sha256).digest()


def unseal(blob: object, *, backend: str, key: bytes) -> Sealed:
    """The guest's bytes in `blob`, if it is a state this host sealed for `backend` with
    `key`; a `SessionStateError` that says why not otherwise."""
    if isinstance(blob, str) or not isinstance(blob, (bytes, bytearray, memoryview)):
        raise SessionStateError(
            f"a session state is bytes (from session.state), got {type(blob).__name__}"
        )
    data = bytes(blob)
    start = len(MAGIC) + _LENGTH.size
    if not data.startswith(MAGIC) or len(data) < start + _TAG:
        raise SessionStateError(
            "these bytes are not a codeact session state; pass the bytes of session.state"
        )
    body, tag = data[:-_TAG], data[-_TAG:]
    if not hmac.compare_digest(hmac.new(key, body, hashlib.sha256).digest(), tag):
        raise SessionStateError(
            "the session state failed its integrity check: it was changed, or sealed with "
            "another key (restore a state with the key it was saved with: key=...)"
        )
    (size,) = _LENGTH.unpack_from(body, len(MAGIC))
    try:
        header = json.loads(body[start : start + size])
    except ValueError:
        header = None
    if not isinstance(header, dict):
        raise SessionStateError("the session state's header is damaged; start a new session")
    saved_by = header.get("codeact")
    if saved_by != VERSION:
        raise SessionStateError(
            f"the session state was saved by codeact {saved_by}; this is codeact {VERSION}, "
            "which cannot restore it: start a new session"
        )
    if header.get("guest") != GUEST_FORMAT:
        raise SessionStateError(
            "the session state was saved by another build of codeact's sandbox (state format "
            f"{header.get('guest')}, this one reads {GUEST_FORMAT}): start a new session"
        )
    if header.get("backend") != backend:
        raise SessionStateError(
            f"the session state was saved on the {header.get('backend')!r} backend and this "
            f"session runs on {backend!r}; restore it with CodeAct(backend="
            f"{header.get('backend')!r})"
        )
    raw_names = header.get("names")
    names = tuple(n for n in raw_names if isinstance(n, str)) if isinstance(raw_names, list) else ()
    left_out = header.get("left_out")
    payload = body[start + size :]
    return Sealed(payload or None, names, left_out if isinstance(left_out, int) else 0)
