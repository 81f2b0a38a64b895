#!/usr/bin/env python3
"""Interop peer backed by go-libp2p v0.24.2 through the PyPI binding `libp2p-go` 0.1.4.

Runs in interop/.venv-go. CLI contract and scenario: docs/INTEROP.md. The binding's limits
and how this peer works around them (all documented there, "Library quirks"):
- streams have no CloseWrite (close() is a full close): as a dialer, echo uses the
  length-prefixed variant /p2pnode/echo-lp/1.0.0;
- no access to identify results or to the connection list: identify is requested
  explicitly over /ipfs/id/1.0.0 and decoded here; inbound peers are found in the
  peerstore (peers whose identify carried listen addresses);
- every binding call blocks an executor thread, so the default executor is enlarged;
- PingService.ping() wants the raw peer id bytes, not the base58 string.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

from libp2p import (  # noqa: E402
    DefaultTransports,
    DisableRelay,
    Host,
    Identity,
    ListenAddrStrings,
    MuxerYamux,
    SecurityNoise,
    Stream,
)
from libp2p.crypto import PrivKey, PubKey  # noqa: E402
from libp2p.peer import Peer, addr_info_from_p2p_addr  # noqa: E402
from libp2p.ping import PingService  # noqa: E402
from libp2p.utils import GoString, LibP2PError  # noqa: E402

IMPL = "go"


def make_host(secret: bytes, port: int) -> Host:
    """A go-libp2p host: secp256k1 identity, TCP on 127.0.0.1, Noise only, yamux only."""
    priv = PrivKey.unmarshal(C.secp256k1_private_key_protobuf(secret))
    return Host(
        Identity(priv),
        ListenAddrStrings(f"/ip4/127.0.0.1/tcp/{port}"),
        DefaultTransports(),
        SecurityNoise(),
        MuxerYamux(GoString.new("/yamux/1.0.0")),
        DisableRelay(),
    )


def use_go_executor() -> None:
    """Every binding call blocks an executor thread (docs/INTEROP.md, quirk 5): give them 32."""
    asyncio.get_running_loop().set_default_executor(
        concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="golibp2p"))


async def connect_loopback(dialer: Host, listener: Host, timeout: float, who: str):
    """Dials `listener` at its 127.0.0.1 address; returns its AddrInfo, or None (said on stderr
    as `who`) when it listens on none."""
    addrs = [a for a in listener.addrs if a.startswith("/ip4/127.0.0.1/")]
    if not addrs:
        print(f"{who}: no 127.0.0.1 listen address: {listener.addrs}", file=sys.stderr)
        return None
    info = addr_info_from_p2p_addr(f"{addrs[0]}/p2p/{listener.id.string}")
    await asyncio.wait_for(dialer.connect(info), timeout)
    return info


def is_eof(e: Exception) -> bool:
    # The binding reports io.EOF as LibP2PError("io.ReadAll: EOF") from stream_read.
    return isinstance(e, LibP2PError) and str(e).endswith("EOF")


async def read_exact(s: Stream, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        try:
            got, data = await s.read_bytes(min(n - len(buf), 1 << 20))
        except LibP2PError as e:
            if is_eof(e):
                raise EOFError(f"EOF after {len(buf)} of {n} bytes") from e
            raise
        if got == 0 and not data:
            raise EOFError(f"short read: {len(buf)} of {n}")
        buf += data[:got]
    return bytes(buf)


async def read_uvarint(s: Stream) -> int:
    raw = bytearray()
    while True:
        raw += await read_exact(s, 1)
        if not raw[-1] & 0x80:
            return C.uvarint_decode(bytes(raw))[0]
        if len(raw) >= 9:
            raise C.ProtoError("varint too long")


def peer_id_of_key(public_key: bytes) -> str:
    return Peer.from_public_key(PubKey.unmarshal(public_key)).string


async def identify_remote(host: Host, peer: Peer) -> dict:
    """Opens /ipfs/id/1.0.0 to `peer`, reads the response to EOF and decodes it."""
    s = await host.new_stream(peer, C.IDENTIFY)
    try:
        payload = await s.read_all()
    finally:
        await s.close()
    msg = C.decode_identify(payload)
    msg["key_peer_id"] = peer_id_of_key(msg["public_key"])
    return msg


def add_handlers(host: Host, saw: dict) -> None:
    async def echo(s: Stream) -> None:
        # Read until the remote half-closes, echo everything, then close (full close is
        # fine here: our read side has already seen EOF).
        try:
            data = await s.read_all()
            if data:
                await s.write(data)
            saw["echo_streams"] += 1
            saw["echo_bytes"] += len(data)
        except Exception as e:  # noqa: BLE001 - reported, never fatal
            saw["errors"].append(f"echo: {e!r}")
        finally:
            await s.close()

    async def echo_lp(s: Stream) -> None:
        try:
            n = await read_uvarint(s)
            if n > C.ECHO_LP_MAX:
                raise C.ProtoError(f"echo-lp length {n} over {C.ECHO_LP_MAX}")
            data = await read_exact(s, n)
            if data:
                await s.write(data)
            saw["echo_lp_streams"] += 1
            saw["echo_lp_bytes"] += n
        except Exception as e:  # noqa: BLE001
            saw["errors"].append(f"echo-lp: {e!r}")
        finally:
            await s.close()

    host.set_stream_handler(C.ECHO, echo)
    host.set_stream_handler(C.ECHO_LP, echo_lp)


async def echo_once(host: Host, peer: Peer, data: bytes) -> bytes:
    """Length-prefixed echo: the binding cannot half-close, see module docstring."""
    s = await host.new_stream(peer, C.ECHO_LP)
    try:
        await s.write(C.uvarint_encode(len(data)) + data)
        return await s.read_all()
    finally:
        await s.close()


async def close_host(host: Host) -> None:
    try:
        await asyncio.wait_for(host.close(), 5)
    except Exception:  # noqa: BLE001 - shutting down anyway
        pass


# ---------------------------------------------------------------- listen


async def listen(args) -> int:
    loop = asyncio.get_running_loop()
    host = make_host(C.key_bytes(args.key_hex), args.port)
    me = host.id.string
    saw = C.new_saw(IMPL, me)
    saw["inbound_peers_source"] = "peerstore: peers whose identify carried listen addrs"
    add_handlers(host, saw)
    addrs = [a for a in host.addrs if a.startswith("/ip4/127.0.0.1/")]
    if not addrs:
        print(f"no 127.0.0.1 listen address: {host.addrs}", file=sys.stderr)
        return 1
    C.print_listen(f"{addrs[0]}/p2p/{me}")

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    C.watch_stdin(lambda: loop.call_soon_threadsafe(stop.set))
    identifies: set[asyncio.Task] = set()

    async def identify_task(pid: str) -> None:
        try:
            msg = await asyncio.wait_for(identify_remote(host, Peer.decode(pid)), 15)
            saw["remote_protocols"][pid] = msg["protocols"]
            saw["remote_agents"][pid] = msg.get("agent_version")
            if msg["key_peer_id"] != pid:
                saw["identify_errors"][pid] = f"key hashes to {msg['key_peer_id']}"
        except Exception as e:  # noqa: BLE001
            saw["identify_errors"][pid] = repr(e)

    async def watch_peers() -> None:
        # The binding has no connection notifications; go-libp2p's identify puts the
        # remote's listen addrs in the peerstore, so poll it.
        while True:
            for pid in host.peer_store.peer_with_addrs():
                if pid != me and pid not in saw["inbound_peers"]:
                    saw["inbound_peers"].append(pid)
                    t = loop.create_task(identify_task(pid))
                    identifies.add(t)
            await asyncio.sleep(0.05)

    watcher = loop.create_task(watch_peers())
    try:
        await asyncio.wait_for(stop.wait(), args.timeout)
        saw["stopped_by"] = "stdin-eof-or-signal"
    except asyncio.TimeoutError:
        saw["stopped_by"] = "timeout"
    watcher.cancel()
    if identifies:
        await asyncio.wait(identifies, timeout=3)
    C.print_peer_saw(saw)
    await close_host(host)
    return 0


# ---------------------------------------------------------------- dial


async def dial(args) -> int:
    rep = C.Reporter()
    deadline = time.monotonic() + args.timeout

    def budget(cap: float = 30.0) -> float:
        return max(0.1, min(cap, deadline - time.monotonic()))

    host = make_host(C.key_bytes(args.key_hex), 0)
    me = host.id.string
    add_handlers(host, C.new_saw(IMPL, me))
    _, want = C.split_p2p(args.addr)

    # connect: go-libp2p's upgrader fails the dial unless the Noise-authenticated key
    # hashes to the dialed id; identify re-checks the key below.
    try:
        info = addr_info_from_p2p_addr(args.addr)
        t0 = time.perf_counter()
        await asyncio.wait_for(host.connect(info), budget(15))
        peer = info.id
        rep.step("connect", peer.string == want, {
            "remote": peer.string, "local": me, "ms": round((time.perf_counter() - t0) * 1e3, 2)})
    except Exception as e:  # noqa: BLE001
        rep.step("connect", False, {"error": repr(e), "local": me})
        rep.skip_rest("connect failed")
        await close_host(host)
        return 1

    # identify
    try:
        msg = await asyncio.wait_for(identify_remote(host, peer), budget(15))
        ok, detail = C.identify_detail(msg, msg["key_peer_id"], want,
                                       C.expected_protocols(args.expect_protocols))
        detail["how"] = "explicit /ipfs/id/1.0.0 request (binding exposes no identify results)"
        rep.step("identify", ok, detail)
    except Exception as e:  # noqa: BLE001
        rep.step("identify", False, {"error": repr(e)})

    # ping: go-libp2p's ping.Ping (32 random bytes, compared byte for byte)
    try:
        svc = PingService(host)
        chan = svc.ping(peer.bytes)  # raw id bytes: the binding casts, it does not decode
        rtts = []
        for _ in range(3):
            r = await asyncio.wait_for(chan.__anext__(), budget(10))
            if r.error:
                raise RuntimeError(r.error)
            rtts.append(r.rtt / 1e6)
        del chan
        rep.step("ping", True, {"rtt_ms": [round(x, 3) for x in rtts], "how": "go-libp2p ping.Ping"})
    except Exception as e:  # noqa: BLE001
        rep.step("ping", False, {"error": repr(e)})

    # echo (length-prefixed: no half-close in the binding)
    try:
        data = os.urandom(args.echo_bytes)
        t0 = time.perf_counter()
        back = await asyncio.wait_for(echo_once(host, peer, data), budget(30))
        ms = (time.perf_counter() - t0) * 1e3
        ok = hashlib.sha256(back).digest() == hashlib.sha256(data).digest()
        rep.step("echo", ok, {
            "protocol": C.ECHO_LP, "sent": len(data), "received": len(back),
            "sha256": hashlib.sha256(data).hexdigest()[:16], "ms": round(ms, 1),
            "note": "binding has no CloseWrite: length-prefixed echo variant"})
    except Exception as e:  # noqa: BLE001
        rep.step("echo", False, {"protocol": C.ECHO_LP, "error": repr(e)})

    # streams: N concurrent echo streams. A go-libp2p listener's resource manager resets
    # inbound streams over its per-peer, per-protocol limit; those are retried (bounded)
    # and counted, see docs/INTEROP.md.
    resets = 0

    async def one(blob: bytes) -> bytes:
        nonlocal resets
        for attempt in range(C.STREAM_RETRIES + 1):
            try:
                return await echo_once(host, peer, blob)
            except LibP2PError as e:
                if "reset" not in str(e) or attempt == C.STREAM_RETRIES:
                    raise
                resets += 1
                await asyncio.sleep(0.02 * (attempt + 1))
        raise AssertionError("unreachable")

    try:
        blobs = [os.urandom(args.stream_bytes) for _ in range(args.streams)]
        t0 = time.perf_counter()
        results = await asyncio.wait_for(asyncio.gather(
            *(one(b) for b in blobs), return_exceptions=True), budget(30))
        ms = (time.perf_counter() - t0) * 1e3
        good = sum(1 for b, r in zip(blobs, results) if r == b)
        errors = sorted({repr(r) for r in results if isinstance(r, Exception)})[:3]
        rep.step("streams", good == len(blobs), {
            "protocol": C.ECHO_LP, "streams": len(blobs), "exact": good, "resets": resets,
            "ms": round(ms, 1), "errors": errors})
    except Exception as e:  # noqa: BLE001
        rep.step("streams", False, {"protocol": C.ECHO_LP, "error": repr(e), "resets": resets})

    await close_host(host)
    return 1 if rep.failed else 0


async def main() -> int:
    args = C.parse_args(IMPL)
    # Every binding call runs in the default executor and blocks a thread (reads block
    # until data arrives); the stock pool (min(32, cpus + 4)) deadlocks 100 streams.
    asyncio.get_running_loop().set_default_executor(
        concurrent.futures.ThreadPoolExecutor(max_workers=512, thread_name_prefix="golibp2p"))
    return await (listen(args) if args.cmd == "listen" else dial(args))


if __name__ == "__main__":
    C.run_and_exit(lambda: asyncio.new_event_loop().run_until_complete(main()))
