"""Shared, standard-library-only helpers for the interop peers (go_peer.py, py_peer.py).

Both peers import this module from their own virtual environment, so it must not import
anything outside the Python standard library. It holds the CLI contract (see
docs/INTEROP.md), the step reporting, the length-prefixed echo framing, and a minimal
decoder for the identify message (libp2p identify spec, message `Identify`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import traceback
from typing import Any, Callable, NoReturn

IDENTIFY = "/ipfs/id/1.0.0"
PING = "/ipfs/ping/1.0.0"
# Echo until EOF: the client writes, half-closes, reads to EOF (the real scenario).
ECHO = "/p2pnode/echo/1.0.0"
# Length-prefixed echo: uvarint(n) || n bytes, echoed back, then the server closes its
# write side. For clients that cannot half-close (the libp2p-go binding has no CloseWrite).
ECHO_LP = "/p2pnode/echo-lp/1.0.0"
ECHO_LP_MAX = 64 << 20
# The streams step retries a stream the listener reset (go-libp2p's resource manager
# resets inbound streams over its per-peer, per-protocol limit) at most this many times.
STREAM_RETRIES = 5

DEFAULT_EXPECT = [IDENTIFY, PING, ECHO]
STEPS = ["connect", "identify", "ping", "echo", "streams"]


class ProtoError(ValueError):
    """A malformed protobuf or varint."""


# ---------------------------------------------------------------- CLI contract


def parse_args(impl: str, argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=f"{impl}_peer", description=f"p2pnode interop peer ({impl})")
    sub = p.add_subparsers(dest="cmd", required=True)
    ls = sub.add_parser("listen", help="serve identify, ping and echo on 127.0.0.1")
    ls.add_argument("--key-hex", default=None, help="64 hex chars: secp256k1 private key")
    ls.add_argument("--port", type=int, default=0)
    ls.add_argument("--muxer", default="yamux", choices=["yamux"])
    ls.add_argument("--timeout", type=float, default=120.0, help="serve at most this many seconds")
    dl = sub.add_parser("dial", help="connect to a listener and run the scenario")
    dl.add_argument("addr", help="multiaddr ending in /p2p/<peer id>")
    dl.add_argument("--key-hex", default=None)
    dl.add_argument("--muxer", default="yamux", choices=["yamux"])
    dl.add_argument("--expect-protocols", default=",".join(DEFAULT_EXPECT))
    dl.add_argument("--echo-bytes", type=int, default=1 << 20)
    dl.add_argument("--streams", type=int, default=100)
    dl.add_argument("--stream-bytes", type=int, default=1024)
    dl.add_argument("--timeout", type=float, default=50.0, help="whole scenario budget in seconds")
    a = p.parse_args(argv)
    if a.key_hex is not None:
        try:
            key = bytes.fromhex(a.key_hex)
        except ValueError:
            p.error("--key-hex is not hex")
        if len(key) != 32:
            p.error("--key-hex must be 64 hex characters (32 bytes)")
    if a.cmd == "dial":
        if "/p2p/" not in a.addr:
            p.error("the multiaddr must end in /p2p/<peer id>")
        if not (0 <= a.echo_bytes <= ECHO_LP_MAX) or not (0 < a.streams <= 1000):
            p.error("--echo-bytes or --streams out of range")
    return a


def key_bytes(key_hex: str | None) -> bytes:
    """The 32-byte secp256k1 secret: from --key-hex, or fresh random (retried until < n)."""
    if key_hex:
        return bytes.fromhex(key_hex)
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    while True:
        k = os.urandom(32)
        if 0 < int.from_bytes(k, "big") < n:
            return k


def secp256k1_private_key_protobuf(secret: bytes) -> bytes:
    """libp2p `PrivateKey` protobuf: Type=Secp256k1 (2), Data=the 32-byte secret."""
    return bytes([0x08, 0x02, 0x12, len(secret)]) + secret


def split_p2p(addr: str) -> tuple[str, str]:
    """'/ip4/../tcp/N/p2p/ID' -> ('/ip4/../tcp/N', 'ID')."""
    i = addr.rfind("/p2p/")
    return addr[:i], addr[i + 5:]


def expected_protocols(arg: str) -> list[str]:
    return [p for p in (s.strip() for s in arg.split(",")) if p]


# ---------------------------------------------------------------- reporting


class Reporter:
    """Prints one JSON line per step; remembers whether any failed."""

    def __init__(self) -> None:
        self.failed = False
        self.done: set[str] = set()

    def step(self, name: str, ok: bool, detail: Any) -> None:
        self.done.add(name)
        self.failed |= not ok
        print(json.dumps({"step": name, "ok": bool(ok), "detail": detail}, default=str), flush=True)

    def skip_rest(self, why: str) -> None:
        for s in STEPS:
            if s not in self.done:
                self.step(s, False, f"not run: {why}")


def print_listen(addr: str) -> None:
    print(f"LISTEN {addr}", flush=True)


def print_peer_saw(saw: dict[str, Any]) -> None:
    try:
        print("PEER-SAW " + json.dumps(saw, sort_keys=True, default=str), flush=True)
    except BrokenPipeError:
        pass


def watch_stdin(on_eof: Callable[[], None]) -> None:
    """Calls on_eof (from a daemon thread) once stdin reaches EOF."""

    def run() -> None:
        try:
            while sys.stdin.buffer.read1(65536):
                pass
        except (OSError, ValueError):
            pass
        on_eof()

    threading.Thread(target=run, name="stdin-watch", daemon=True).start()


def new_saw(impl: str, peer_id: str) -> dict[str, Any]:
    return {
        "impl": impl,
        "peer_id": peer_id,
        "inbound_peers": [],
        "remote_protocols": {},
        "remote_agents": {},
        "identify_errors": {},
        "echo_streams": 0,
        "echo_bytes": 0,
        "echo_lp_streams": 0,
        "echo_lp_bytes": 0,
        "errors": [],
    }


# ---------------------------------------------------------------- varint / protobuf


def uvarint_encode(n: int) -> bytes:
    if n < 0:
        raise ValueError("negative varint")
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def uvarint_decode(buf: bytes, pos: int = 0) -> tuple[int, int]:
    """Returns (value, next position). At most 9 bytes (63 bits), minimal encoding."""
    value = 0
    for i in range(9):
        if pos + i >= len(buf):
            raise ProtoError("truncated varint")
        b = buf[pos + i]
        value |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            if b == 0 and i > 0:
                raise ProtoError("non-minimal varint")
            return value, pos + i + 1
    raise ProtoError("varint longer than 9 bytes")


def protobuf_fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """Decodes a protobuf message into (field number, wire type, value) triples."""
    out = []
    pos = 0
    while pos < len(buf):
        key, pos = uvarint_decode(buf, pos)
        field, wt = key >> 3, key & 7
        if field == 0:
            raise ProtoError("field number 0")
        if wt == 0:
            v, pos = uvarint_decode(buf, pos)
        elif wt == 2:
            n, pos = uvarint_decode(buf, pos)
            if n > len(buf) - pos:
                raise ProtoError("length-delimited field past the end")
            v, pos = buf[pos:pos + n], pos + n
        elif wt == 1:
            if pos + 8 > len(buf):
                raise ProtoError("truncated fixed64")
            v, pos = buf[pos:pos + 8], pos + 8
        elif wt == 5:
            if pos + 4 > len(buf):
                raise ProtoError("truncated fixed32")
            v, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ProtoError(f"unsupported wire type {wt}")
        out.append((field, wt, v))
    return out


def decode_identify(payload: bytes) -> dict[str, Any]:
    """Decodes an identify response read to EOF.

    go-libp2p (and py-libp2p by default) send the message uvarint-length-delimited; the
    spec's original form is the bare message. Accepts either: the delimited form when the
    prefix covers the payload exactly.
    """
    body = payload
    try:
        n, p = uvarint_decode(payload, 0)
        if n > 0 and p + n == len(payload):
            body = payload[p:]
    except ProtoError:
        pass
    msg: dict[str, Any] = {"framing": "delimited" if body is not payload else "bare",
                           "protocols": [], "listen_addrs": []}
    for field, wt, v in protobuf_fields(body):
        if wt != 2:
            continue
        if field == 1:
            msg["public_key"] = v
        elif field == 2:
            msg["listen_addrs"].append(v)
        elif field == 3:
            msg["protocols"].append(v.decode("utf-8", "replace"))
        elif field == 4:
            msg["observed_addr"] = v
        elif field == 5:
            msg["protocol_version"] = v.decode("utf-8", "replace")
        elif field == 6:
            msg["agent_version"] = v.decode("utf-8", "replace")
        elif field == 8:
            msg["signed_peer_record"] = True
    if "public_key" not in msg:
        raise ProtoError("identify message has no publicKey")
    return msg


def identify_detail(msg: dict[str, Any], remote_id: str | None, expected_id: str,
                    expect: list[str]) -> tuple[bool, dict[str, Any]]:
    """Checks an identify message against the expectations; returns (ok, detail)."""
    missing = [p for p in expect if p not in msg["protocols"]]
    ok = not missing and remote_id == expected_id
    detail = {
        "agent_version": msg.get("agent_version"),
        "protocol_version": msg.get("protocol_version"),
        "protocols": msg["protocols"],
        "missing": missing,
        "key_peer_id": remote_id,
        "framing": msg["framing"],
        "listen_addrs": len(msg["listen_addrs"]),
    }
    if remote_id != expected_id:
        detail["error"] = "identify publicKey does not hash to the dialed peer id"
    return ok, detail


def run_and_exit(run: Callable[[], int], error_code: int = 2) -> NoReturn:
    """A peer script's entry point: runs `run` and exits with its status without joining
    threads. The go binding parks executor threads inside Go calls, so neither asyncio.run()
    (its shutdown joins the executor) nor a normal interpreter exit would return; py-libp2p's
    trio threads are treated the same way. argparse's exits keep their status; anything else
    is printed and exits with `error_code`."""
    try:
        code = run()
    except SystemExit as e:  # argparse
        code = e.code if isinstance(e.code, int) else 2
    except BaseException:  # noqa: BLE001 - report, then exit without joining threads
        traceback.print_exc()
        code = error_code
    sys.stdout.flush()
    os._exit(code)
