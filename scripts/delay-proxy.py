#!/usr/bin/env python3
"""A latency proxy for the network benchmark (bench-network.py): every request waits the
configured delay before it is forwarded to the S3 test server, every new connection waits the
handshake delay before its first request — and nothing else costs more than a few tens of
microseconds.

Usage: delay-proxy.py --upstream http://127.0.0.1:PORT --info-file PATH

Why not scripts/fault-proxy.py: that one is threaded (a thread per connection, each parsing
HTTP in Python), and under the interpreter's lock it served at most ~520 requests a second with
20 ms of delay and 16 clients, ~410 with 32, and a handful with 64 (curl --parallel, 8 KiB
objects, this machine): every tool's cold pull was bound by the proxy, not by its own round
trips. This one runs one event loop (asyncio), forwards bytes as they come and parses only
what it must (request and status lines, headers, lengths).

The control API is fault-proxy.py's subset the benchmark uses, on the same port:
  POST /__proxy/rules  [{"action": "delay", "ms": N}, {"action": "connect_delay", "ms": M}]
  POST /__proxy/clear  forget the request log
  GET  /__proxy/log    [{"method", "path", "status", "start", "end", "connection"}, ...]
Times are time.monotonic() seconds, like fault-proxy.py's: a request starts when its headers
have arrived and ends when its response has been written.
"""
import argparse
import asyncio
import json
import os
import time
from urllib.parse import urlsplit

state = {"delay": 0.0, "connect": 0.0, "log": [], "connections": 0}


def parse_head(head):
    """(first line's words, lower-cased headers) of an HTTP head."""
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return lines[0].split(" ", 2), headers


async def relay_body(reader, writer, headers, until_eof=False):
    """Copies a message body (Content-Length, chunked, or to the end of the stream)."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            line = await reader.readuntil(b"\r\n")
            writer.write(line)
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                # Trailers, then the empty line.
                while True:
                    trailer = await reader.readuntil(b"\r\n")
                    writer.write(trailer)
                    if trailer == b"\r\n":
                        return
            writer.write(await reader.readexactly(size + 2))
            await writer.drain()
    remaining = int(headers.get("content-length", "0") or 0)
    while remaining > 0:
        chunk = await reader.read(min(remaining, 1 << 16))
        if not chunk:
            raise ConnectionError("the stream ended inside a body")
        writer.write(chunk)
        remaining -= len(chunk)
        await writer.drain()
    if until_eof and "content-length" not in headers:
        while chunk := await reader.read(1 << 16):
            writer.write(chunk)
            await writer.drain()


def reply(writer, status, body):
    writer.write(f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)


async def control(method, path, reader, writer, headers):
    length = int(headers.get("content-length", "0") or 0)
    body = await reader.readexactly(length) if length else b""
    if path == "/__proxy/rules" and method == "POST":
        rules = json.loads(body or b"[]")
        state["delay"] = next((r.get("ms", 0) for r in rules if r.get("action") == "delay"), 0) / 1000
        state["connect"] = next((r.get("ms", 0) for r in rules if r.get("action") == "connect_delay"), 0) / 1000
        reply(writer, 200, b"{}")
    elif path == "/__proxy/clear" and method == "POST":
        state["log"] = []
        reply(writer, 200, b"{}")
    elif path == "/__proxy/log" and method == "GET":
        reply(writer, 200, json.dumps(state["log"]).encode())
    else:
        reply(writer, 404, b"{}")
    await writer.drain()


async def serve(reader, writer, upstream):
    state["connections"] += 1
    connection = state["connections"]
    if state["connect"]:
        await asyncio.sleep(state["connect"])
    server = None
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            started = time.monotonic()
            (method, path, *_), headers = parse_head(head)
            if path.startswith("/__proxy/"):
                await control(method, path, reader, writer, headers)
                continue
            if headers.get("expect", "").lower() == "100-continue":
                # Answered here: the body is relayed as it comes, whatever the server says first.
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                head = b"\r\n".join(line for line in head.split(b"\r\n") if not line.lower().startswith(b"expect:"))
            if state["delay"]:
                await asyncio.sleep(state["delay"])
            if server is None:
                server = await asyncio.open_connection(upstream.hostname, upstream.port)
            up_reader, up_writer = server
            up_writer.write(head)
            await relay_body(reader, up_writer, headers)
            await up_writer.drain()
            while True:
                response = await up_reader.readuntil(b"\r\n\r\n")
                (_, status, *_), response_headers = parse_head(response)
                writer.write(response)
                if not 100 <= int(status) < 200:
                    break
            closes = response_headers.get("connection", "").lower() == "close"
            if method != "HEAD" and int(status) not in (204, 304):
                await relay_body(up_reader, writer, response_headers, until_eof=closes)
            await writer.drain()
            state["log"].append({"method": method, "path": path, "status": int(status), "start": started, "end": time.monotonic(),
                                 "connection": connection})
            if closes:
                up_writer.close()
                server = None
            if headers.get("connection", "").lower() == "close":
                return
    except (asyncio.IncompleteReadError, ConnectionError):
        return
    finally:
        if server is not None:
            server[1].close()
        writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--info-file", required=True)
    args = parser.parse_args()
    upstream = urlsplit(args.upstream)
    listener = await asyncio.start_server(lambda r, w: serve(r, w, upstream), "127.0.0.1", 0, backlog=1024, limit=1 << 20)
    port = listener.sockets[0].getsockname()[1]
    temporary = args.info_file + ".tmp"
    with open(temporary, "w") as handle:
        handle.write(f"port={port}\n")
    os.replace(temporary, args.info_file)
    async with listener:
        await listener.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
