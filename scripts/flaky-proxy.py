#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for swamp's tests, in front of the S3 test server.

Usage: flaky-proxy.py --upstream http://127.0.0.1:PORT --info-file PATH
                      [--fail-first] [--reset-second] [--always-fail]
With --fail-first, the first attempt of every distinct request (method, path and query)
gets `503 SlowDown` (S3's throttling error) without reaching the upstream; with
--reset-second, its second attempt has the connection closed before any response; with
--always-fail every request gets `500 InternalError`. Faults are tied to each request's
attempts, not to a shared counter, so a client with enough retries always gets through.
Writes "port=N" to the info file once listening.
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
    parser.add_argument("--fail-first", action="store_true")
    parser.add_argument("--reset-second", action="store_true")
    parser.add_argument("--always-fail", action="store_true")
    args = parser.parse_args()
    upstream = urlsplit(args.upstream)
    attempts = {}
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
            key = (self.command, self.path, self.headers.get("If-None-Match"), self.headers.get("If-Match"))
            with lock:
                attempts[key] = attempts.get(key, 0) + 1
                attempt = attempts[key]
            if args.always_fail:
                return self._error(500, INTERNAL)
            if args.fail_first and attempt == 1:
                return self._error(503, SLOW_DOWN)
            if args.reset_second and attempt == 2:
                self.close_connection = True
                self.connection.shutdown(2)
                return
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
