#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for swamp's tests, in front of the S3 test server.

Usage: flaky-proxy.py --upstream http://127.0.0.1:PORT --info-file PATH
                      [--fail-every N] [--reset-every M] [--always-fail]
Every Nth request gets `503 SlowDown` (S3's throttling error) without reaching the
upstream; every Mth has its connection closed before any response; with --always-fail
every request gets `500 InternalError`. Writes "port=N" to the info file once listening.
"""
import argparse
import http.client
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

SLOW_DOWN = b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>'
INTERNAL = b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>'


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--info-file", required=True)
    parser.add_argument("--fail-every", type=int, default=0)
    parser.add_argument("--reset-every", type=int, default=0)
    parser.add_argument("--always-fail", action="store_true")
    args = parser.parse_args()
    upstream = urlsplit(args.upstream)
    counter = {"n": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def _error(self, status, body):
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _handle(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with lock:
                counter["n"] += 1
                n = counter["n"]
            if args.always_fail:
                return self._error(500, INTERNAL)
            if args.reset_every and n % args.reset_every == 0:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if args.fail_every and n % args.fail_every == 0:
                return self._error(503, SLOW_DOWN)
            connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                    self.send_header(key, value)
                elif key.lower() == "date":
                    self.send_header(key, value)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(data)))
            else:
                self.send_header("Content-Length", response.getheader("Content-Length") or "0")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            connection.close()

        do_GET = do_PUT = do_DELETE = do_HEAD = do_POST = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    temporary = args.info_file + ".tmp"
    with open(temporary, "w") as handle:
        handle.write(f"port={server.server_port}\n")
    os.replace(temporary, args.info_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
