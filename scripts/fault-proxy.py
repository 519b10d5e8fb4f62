#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for swamp's tests, in front of the S3 test server.

Usage: fault-proxy.py --upstream http://127.0.0.1:PORT --info-file PATH
                      [--fail-first] [--reset-second] [--always-fail]

Writes "port=N" to the info file once listening. Every request is logged; faults come from
rules, set (and replaced) at run time through a control API on the same port:

  POST /__proxy/rules     body: a JSON list of rules (replaces the rules, resets their counters)
  POST /__proxy/release   lets every held request go on
  GET  /__proxy/log       the requests seen so far: [{"method", "path", "status", "fault", "start", "end",
                          "connection", "key", "region"}] (start/end: monotonic seconds when the request
                          arrived and was answered; connection: which client connection carried it, from
                          1; key and region: the access key id and region of its SigV4 credential scope)
  POST /__proxy/clear     forgets the log

A rule: {"method": "PUT", "path": "regex on path?query", "nth": 1, "count": 1, "action": ..., ...}
matches requests whose method equals `method` (any when absent) and whose path matches `path`
(re.search; any when absent); it affects the `nth` matching request and the `count - 1` after it
(`count` -1: all from the nth on). Actions:

  error          answer `status` (default 503) with S3 error `code` (default SlowDown), not forwarded
  respond        answer `status` (default 200) with the text `body`, not forwarded: a server that
                 sends a document of the wrong kind, or one that repeats itself
  reset          close the connection before forwarding (the server never sees the request)
  drop_response  forward, then close the connection without answering (the response is lost)
  hold           wait until /__proxy/release (or `timeout` s, default 120), then forward
  delay          wait `ms` milliseconds, then forward
  connect_delay  (not per request) every new client connection waits `ms` milliseconds before its
                 first request is read: the cost of TCP and TLS handshakes on a real network
  signal         send `signal` (KILL, STOP, TERM, INT) to `pid`; then `then`: "close" (default),
                 "hold" or "forward"; with "when": "after", forward first and signal before answering
  trickle        forward, then send the response body at `rate` bytes per second
  skew_date      forward, then move the response's Date header by `seconds`
  wrong_region   plays a bucket in `region`: a request signed for another region gets S3's answer,
                 301 PermanentRedirect with `x-amz-bucket-region` (or, with "status": 400,
                 AuthorizationHeaderMalformed naming the region in the body); others are forwarded

The flags are the fixed faults of earlier tests: the first attempt of every distinct request
(method, path, conditional headers) gets 503 SlowDown (--fail-first), its second attempt has its
connection cut (--reset-second); --always-fail answers 500 InternalError to everything.
"""
import argparse
import email.utils
import http.client
import json
import os
import re
import select
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

SIGNALS = {"KILL": signal.SIGKILL, "STOP": signal.SIGSTOP, "TERM": signal.SIGTERM, "INT": signal.SIGINT, "CONT": signal.SIGCONT}


def error_body(code, message="Injected by fault-proxy."):
    return f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'.encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--info-file", required=True)
    parser.add_argument("--fail-first", action="store_true")
    parser.add_argument("--reset-second", action="store_true")
    parser.add_argument("--always-fail", action="store_true")
    args = parser.parse_args()
    upstream = urlsplit(args.upstream)
    lock = threading.Lock()
    released = threading.Condition(lock)
    state = {"rules": [], "log": [], "attempts": {}, "generation": 0}

    def pick_rule(method, path):
        """The rule that affects this request (counting matches), or None. Holds `lock`."""
        chosen = None
        for rule in state["rules"]:
            if rule.get("action") == "connect_delay":
                continue
            if rule.get("method") and rule["method"] != method:
                continue
            if rule.get("path") and not re.search(rule["path"], path):
                continue
            rule["_seen"] = rule.get("_seen", 0) + 1
            nth, count = rule.get("nth", 1), rule.get("count", 1)
            if chosen is None and rule["_seen"] >= nth and (count < 0 or rule["_seen"] < nth + count):
                chosen = rule
        return chosen

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The head and the body go out in separate writes: with Nagle's algorithm on, the body
        # waits for the client's delayed ACK of the head (40 ms on Linux), a stall no real
        # server adds.
        disable_nagle_algorithm = True

        def log_message(self, *_):
            pass

        def _reply(self, status, body, content_type="application/xml"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def setup(self):
            super().setup()
            with lock:
                state["connections"] = state.get("connections", 0) + 1
                self._connection = state["connections"]
                handshake = next((r.get("ms", 0) for r in state["rules"] if r.get("action") == "connect_delay"), 0)
            if handshake:
                time.sleep(handshake / 1000)

        def _scope(self):
            """(access key id, region) of the request's SigV4 credential scope (never the signature)."""
            match = re.search(r"Credential=([^/,\s]+)/\d{8}/([^/,\s]+)/", self.headers.get("Authorization") or "")
            return (match.group(1), match.group(2)) if match else (None, None)

        def _record(self, status, fault):
            key, region = self._scope()
            entry = {"method": self.command, "path": self.path, "status": status, "fault": fault, "key": key, "region": region}
            entry.update(start=self._started, end=time.monotonic(), connection=self._connection)
            with lock:
                state["log"].append(entry)

        def _control(self, body):
            if self.path == "/__proxy/rules" and self.command == "POST":
                with lock:
                    state["rules"] = json.loads(body or b"[]")
                    state["generation"] += 1
                    released.notify_all()
                return self._reply(200, b"{}", "application/json")
            if self.path == "/__proxy/release" and self.command == "POST":
                with lock:
                    state["generation"] += 1
                    released.notify_all()
                return self._reply(200, b"{}", "application/json")
            if self.path == "/__proxy/log":
                with lock:
                    data = json.dumps(state["log"]).encode()
                return self._reply(200, data, "application/json")
            if self.path == "/__proxy/clear" and self.command == "POST":
                with lock:
                    state["log"] = []
                return self._reply(200, b"{}", "application/json")
            return self._reply(404, b"{}", "application/json")

        def _wrong_region(self, rule):
            region, signed = rule["region"], self._scope()[1]
            if int(rule.get("status", 301)) == 400:
                body = (
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization "
                    f"header is malformed; the region '{signed}' is wrong; expecting '{region}'</Message><Region>{region}</Region></Error>"
                ).encode()
                self._record(400, "wrong_region")
                return self._reply(400, body)
            body = error_body("PermanentRedirect", "The bucket you are attempting to access must be addressed using the specified endpoint.")
            self._record(301, "wrong_region")
            self.send_response(301)
            self.send_header("x-amz-bucket-region", region)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(0 if self.command == "HEAD" else len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _cut(self, fault):
            self._record(0, fault)
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass

        def _hold(self, rule):
            with lock:
                generation = state["generation"]
                deadline = time.monotonic() + rule.get("timeout", 120)
                while state["generation"] == generation and time.monotonic() < deadline:
                    released.wait(timeout=0.05)

        def _forward(self, body):
            # One connection to the server per client connection, kept open between requests (a
            # new one per request cost the server a connection and a thread each time).
            # A request is never sent twice: a kept connection the server has closed (readable
            # while idle) is replaced before use, and a failure after sending is the client's.
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
            connection = getattr(self, "_upstream", None)
            if connection is not None and (connection.sock is None or select.select([connection.sock], [], [], 0)[0]):
                connection.close()
                connection = None
            if connection is None:
                connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
            self._upstream = connection
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except Exception:
                connection.close()
                self._upstream = None
                raise
            if response.will_close:
                connection.close()
                self._upstream = None
            return response, data

        def finish(self):
            super().finish()
            if getattr(self, "_upstream", None) is not None:
                self._upstream.close()

        def _respond(self, response, data, rule):
            action = rule.get("action") if rule else None
            self.send_response(response.status)
            for key, value in response.getheaders():
                lower = key.lower()
                if lower in ("transfer-encoding", "connection", "content-length", "server"):
                    continue
                if lower == "date" and action == "skew_date":
                    moved = email.utils.parsedate_to_datetime(value).timestamp() + float(rule.get("seconds", 0))
                    value = email.utils.formatdate(moved, usegmt=True)
                self.send_header(key, value)
            length = len(data) if self.command != "HEAD" else int(response.getheader("Content-Length") or 0)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            if self.command == "HEAD":
                return
            if action == "trickle":
                rate = max(1, int(rule.get("rate", 1)))
                for offset in range(0, len(data), rate):
                    self.wfile.write(data[offset : offset + rate])
                    self.wfile.flush()
                    time.sleep(1)
            else:
                self.wfile.write(data)

        def _handle(self):
            self._started = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if len(body) < length:
                # The client went away mid-body (killed): forwarding the part it sent would leave
                # the server waiting for the rest, holding up every other request.
                return self._cut("client-gone")
            if self.path.startswith("/__proxy/"):
                return self._control(body)
            key = (self.command, self.path, self.headers.get("If-None-Match"), self.headers.get("If-Match"))
            with lock:
                state["attempts"][key] = state["attempts"].get(key, 0) + 1
                attempt = state["attempts"][key]
                rule = pick_rule(self.command, self.path)
            if args.always_fail:
                self._record(500, "always-fail")
                return self._reply(500, error_body("InternalError", "We encountered an internal error."))
            if args.fail_first and attempt == 1:
                self._record(503, "fail-first")
                return self._reply(503, error_body("SlowDown", "Please reduce your request rate."))
            if args.reset_second and attempt == 2:
                return self._cut("reset-second")
            action = rule.get("action") if rule else None
            if action == "error":
                status = int(rule.get("status", 503))
                self._record(status, "error")
                return self._reply(status, error_body(rule.get("code", "SlowDown")))
            if action == "respond":
                status = int(rule.get("status", 200))
                self._record(status, "respond")
                return self._reply(status, rule.get("body", "").encode())
            if action == "reset":
                return self._cut("reset")
            if action == "wrong_region" and self._scope()[1] != rule["region"]:
                return self._wrong_region(rule)
            if action == "hold":
                self._hold(rule)
            if action == "delay":
                time.sleep(rule.get("ms", 0) / 1000)
            if action == "signal" and rule.get("when") != "after":
                os.kill(int(rule["pid"]), SIGNALS[rule.get("signal", "KILL")])
                then = rule.get("then", "close")
                if then == "close":
                    return self._cut("signal")
                if then == "hold":
                    self._hold(rule)
            response, data = self._forward(body)
            if action == "drop_response":
                return self._cut("drop_response")
            if action == "signal" and rule.get("when") == "after":
                os.kill(int(rule["pid"]), SIGNALS[rule.get("signal", "KILL")])
                return self._cut("signal-after")
            self._record(response.status, action)
            self._respond(response, data, rule)

        do_GET = do_PUT = do_DELETE = do_HEAD = do_POST = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    temporary = args.info_file + ".tmp"
    with open(temporary, "w") as handle:
        handle.write(f"port={server.server_port}\n")
    os.replace(temporary, args.info_file)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
