#!/usr/bin/env python3
"""An S3-compatible server for swamp's tests: moto on 127.0.0.1.

Differences from `moto_server`, both to behave like real S3 where the tests rely on it:
- requests are handled one at a time (connections stay concurrent; each body is read before
  its turn), so a conditional write's check and write are atomic, as they are on S3;
- with --auth, requests must be signed with SigV4 by a real IAM key (two are printed to the
  info file, with a role to assume, `role_arn`), so a wrong key or a bad signature is refused;
  credentials from STS (AssumeRole, AssumeRoleWithWebIdentity) are checked with their session
  token; AssumeRoleWithWebIdentity is unsigned, as on AWS (moto would want a signature);
- with --auth, a signed query with percent-encoded values (`prefix=a%2Fb`) is checked as S3
  checks it (moto encoded it twice, and refused aws-cli's own listings);
- ListMultipartUploads says when each upload was started (moto answers a fixed date in 2010);
- `If-Match` on CompleteMultipartUpload is checked (S3 does; moto checks only `If-None-Match`);
- connections stay open between requests (werkzeug's development server closed each after one
  answer), and a plain GET of an object is answered from moto's objects without its web
  framework: about 0.5 ms per GET instead of 3.5 ms, so a benchmark through it measures the
  clients more than the server (the answer is the same: see `plain_get`);
- a request body cut short is refused, never handed to moto;
- the whole-object checksum of a multipart upload is computed part by part (see `add_part`);
- objects and parts stay in memory (moto spools those over 5 MiB to files on disk) and hold
  the bytes they were given, never a copy (moto copied each value into
  a buffer and out again for every request: a 1 GiB object fetched in 128 ranges of 8 MiB,
  as aws-cli and swamp both do, cost 1.4 s per range, where S3 reads the range only), and a
  multipart upload's object is joined from its parts once.

Usage: s3-server.py --info-file PATH [--port N] [--auth]
Writes "port=N" (and "access_key_id=…", "secret_access_key=…" with --auth) to the info file
once it listens. Stop it with SIGTERM.

A request still unanswered after 10 s (SWAMP_S3_SERVER_STALL_SECONDS; three times that while
its body is still coming) is reported on stderr, once, with where it is (reading its body,
waiting for its turn, in moto, writing its answer) and every thread's stack: the tests'
runners print those reports when they stop the server.
"""
import argparse
import inspect
import faulthandler
import io
import json
import os
import signal
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


# The requests being handled: thread id -> [started (monotonic), "METHOD path", where, reported].
IN_FLIGHT = {}
READING_BODY = "reading its body"


def now_at(where):
    """Records where the current thread's request is."""
    entry = IN_FLIGHT.get(threading.get_ident())
    if entry is not None:
        entry[2] = where


def watch_for_stalls(limit):
    """Reports each request unanswered for `limit` seconds (three times that while its body is
    still coming: a client slow to send stalls only itself): what it is, where it is, and every
    thread's stack."""
    while True:
        time.sleep(1)
        now = time.monotonic()
        stalled = [
            entry for entry in list(IN_FLIGHT.values())
            if not entry[3] and now - entry[0] > (3 * limit if entry[2] == READING_BODY else limit)
        ]
        for entry in stalled:
            entry[3] = True
            print(f"s3-server watchdog: {entry[1]} unanswered after {now - entry[0]:.0f} s, {entry[2]}", file=sys.stderr, flush=True)
        if stalled:
            faulthandler.dump_traceback(sys.stderr, all_threads=True)
            sys.stderr.flush()


class KeepAliveServer(ThreadingHTTPServer):
    """A WSGI server that keeps connections open (werkzeug's development server closes every
    connection after one answer, so each request paid a new connection and a new thread), one
    thread per connection, each answer sent in one write. Request bodies are read whole (by
    Content-Length, or chunked) before the application is called."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, application):
        self.application = application
        super().__init__(address, WSGIHandler)


class WSGIHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *_):
        pass

    def _read(self, size):
        data = self.rfile.read(size)
        if len(data) != size:
            raise ConnectionError("the client left before the end of its body")
        return data

    def _body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                line = self.rfile.readline()
                if not line:
                    raise ConnectionError("the client left before the end of its body")
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self._read(size))
                self.rfile.readline()
        return self._read(int(self.headers.get("Content-Length") or 0))

    def _handle(self):
        thread = threading.get_ident()
        IN_FLIGHT[thread] = [time.monotonic(), f"{self.command} {self.path}", READING_BODY, False]
        try:
            self._answer()
        finally:
            IN_FLIGHT.pop(thread, None)

    def _answer(self):
        try:
            body = self._body()
        except (ConnectionError, ValueError):
            # A body cut short never reaches moto (werkzeug's server refused it too): no object
            # is ever made from part of a body.
            self.close_connection = True
            return
        # As werkzeug's development server builds it (moto was written against that).
        url = urlsplit(self.path)
        path = f"/{url.netloc}{url.path}" if not url.scheme and url.netloc else url.path
        environ = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": wsgi_text(unquote(path)),
            "QUERY_STRING": wsgi_text(url.query),
            "REQUEST_URI": wsgi_text(self.path),
            "RAW_URI": wsgi_text(self.path),
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": str(self.server.server_port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": self.client_address[1],
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            if "_" in name:
                continue
            key = name.upper().replace("-", "_")
            value = value.replace("\r\n", "")
            if key == "CONTENT_LENGTH":
                continue
            if key != "CONTENT_TYPE":
                key = "HTTP_" + key
                if key in environ:
                    value = f"{environ[key]},{value}"
            environ[key] = value
        if url.scheme and url.netloc:
            environ["HTTP_HOST"] = url.netloc
        # The body was de-chunked above: with the header left in, werkzeug would read the length
        # as unknown and hand moto an empty body (a chunked PUT stored an empty object).
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        answer = {}

        def start_response(status, headers, exc_info=None):
            answer["status"], answer["headers"] = status, headers
            return lambda data: answer.setdefault("early", []).append(data)

        now_at("waiting for its turn")
        try:
            result = self.server.application(environ, start_response)
            try:
                payload = b"".join(answer.get("early", []) + list(result))
            finally:
                close = getattr(result, "close", None)
                if close:
                    close()
        except Exception:
            traceback.print_exc()
            answer["status"], answer["headers"], payload = "500 Internal Server Error", [], b""
        now_at("writing its answer")
        status = answer["status"]
        headers = [(k, v) for k, v in answer["headers"] if k.lower() not in ("connection", "transfer-encoding", "content-length")]
        code = int(status.split()[0])
        length = next((v for k, v in answer["headers"] if k.lower() == "content-length"), None)
        if self.command == "HEAD" or code == 304 or code == 204 or code < 200:
            payload = b""
        else:
            length = str(len(payload))
        lines = [f"HTTP/1.1 {status}", "Server: swamp-s3-test-server", *(f"{k}: {v}" for k, v in headers)]
        if not any(k.lower() == "date" for k, _ in headers):
            lines.append(f"Date: {self.date_time_string()}")
        if length is not None:
            lines.append(f"Content-Length: {length}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if len(payload) < 1 << 20:
            self.wfile.write(head + payload)
        else:
            self.wfile.write(head)
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_OPTIONS = _handle


def wsgi_text(text):
    """WSGI's native strings: the UTF-8 bytes as latin-1 text."""
    return text.encode("utf-8").decode("latin-1")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--info-file", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--auth", action="store_true")
    args = parser.parse_args()

    # Objects and parts in memory, never in spool files on disk: moto spools anything over 5 MiB
    # to a temporary file, so a 1 GiB multipart upload was written to disk part by part, read
    # back, joined and written again at completion (9-19 s of the test server's time per GiB).
    os.environ.setdefault("MOTO_S3_DEFAULT_KEY_BUFFER_SIZE", str(1 << 40))
    from moto import settings
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    info = {}
    if args.auth:
        # moto rebuilds the signed request with the query still percent-encoded, and botocore then
        # encodes it again: a signature over `prefix=a%2Fb` (aws-cli's and swamp's alike) never
        # matched. Give botocore the decoded parameters, as a signing client does.
        from urllib.parse import parse_qsl, urlsplit, urlunsplit
        from moto.iam import access_control

        original_request = access_control.IAMRequestBase._create_aws_request

        def decoded_query_request(self):
            request = original_request(self)
            parts = urlsplit(request.url)
            if parts.query:
                request.url = urlunsplit(parts._replace(query=""))
                request.params = parse_qsl(parts.query, keep_blank_values=True)
            return request

        access_control.IAMRequestBase._create_aws_request = decoded_query_request

        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.iam.models import iam_backends

        iam = iam_backends[DEFAULT_ACCOUNT_ID]["global"]
        iam.create_user(region_name="us-east-1", user_name="swamp-test")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy("swamp-test", "all", json.dumps(policy))
        key = iam.create_access_key("swamp-test")
        info["access_key_id"] = key.access_key_id
        info["secret_access_key"] = key.secret_access_key
        # A second key of the same user (a credential source that hands out new keys on refresh).
        second = iam.create_access_key("swamp-test")
        info["access_key_id_2"] = second.access_key_id
        info["secret_access_key_2"] = second.secret_access_key
        # A role to assume (AssumeRole, AssumeRoleWithWebIdentity), allowed everything.
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
        role = iam.create_role("swamp-role", json.dumps(trust), "/", None, "", [], "3600")
        iam.put_role_policy("swamp-role", "all", json.dumps(policy))
        info["role_arn"] = role.arn
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0

    # moto lists its own package directory (about 180 stat calls) on every request to find the
    # backend for a host; the answer never changes while the server runs, so list it once.
    # (A third of moto's time per request; the tests and benchmarks run faster, nothing else changes.)
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules

    # Objects and parts hold the bytes they were given, never a copy. moto keeps each value in a
    # spooled buffer and copies it in and out: a 1 GiB object was copied for every request that
    # read it, and a 1 GiB multipart upload's parts and whole about five times over, the server's
    # time then going mostly to the kernel zeroing new pages (2.3-8.0 s of a 1 GiB completion,
    # depending on what the machine had just done: docs/benchmarks.md). moto only ever replaces
    # a value whole (it truncates, then writes), so sharing the immutable bytes answers the same.
    import types
    from moto.s3 import models as s3_models
    from moto.s3.models import FakeKey

    class Held:
        """What moto's FakeKey asks of its value buffer, over one immutable bytes object."""

        def __init__(self, *_args, **_kwargs):
            self.value, self.position = b"", 0

        def seek(self, offset, whence=0):
            self.position = max(0, offset + (0, self.position, len(self.value))[whence])
            return self.position

        def read(self, size=-1):
            end = len(self.value) if size is None or size < 0 else min(len(self.value), self.position + size)
            start, self.position = self.position, max(self.position, end)
            return self.value if start == 0 and end == len(self.value) else self.value[start:end]

        def truncate(self, size=None):
            self.value = self.value[: self.position if size is None else size]
            return len(self.value)

        def write(self, data):
            data = bytes(data)  # the same object when it is bytes already
            if self.position == 0 and not self.value:
                self.value = data
            else:
                self.value = self.value[: self.position].ljust(self.position, b"\0") + data + self.value[self.position + len(data):]
            self.position += len(data)
            return len(data)

        def close(self):
            self.value = b""

    s3_models.tempfile = types.SimpleNamespace(SpooledTemporaryFile=Held)

    # A multipart upload's object joined once from its parts (moto grew a bytearray part by part,
    # then copied it whole), with moto's own checks and results.
    multipart_complete = s3_models.FakeMultipart.complete

    def complete(self, body):
        checksum_builder = s3_models.MultipartChecksumBuilder(
            self.metadata.get("x-amz-checksum-algorithm"), self.metadata.get("x-amz-checksum-type"))
        values, md5s, last = [], bytearray(), None
        for number, etag in body:
            part = self.parts.get(number)
            if part is None or part.etag.replace('"', "") != etag.replace('"', ""):
                raise s3_models.InvalidPart()
            if last is not None and last.contentsize < s3_models.S3_UPLOAD_PART_MIN_SIZE:
                raise s3_models.EntityTooSmall()
            md5s.extend(bytes.fromhex(part.etag.replace('"', "")))
            value = part.value
            values.append(value)
            checksum_builder.addPart(value)
            last = part
        if not values:
            raise s3_models.MalformedXML
        return b"".join(values), f"{s3_models.md5_hash(bytes(md5s)).hexdigest()}-{len(values)}", checksum_builder.build()

    # Only over the moto this was written against (5.2): another keeps its own.
    if list(inspect.signature(multipart_complete).parameters) == ["self", "body"] and all(
            hasattr(s3_models, name) for name in ("InvalidPart", "EntityTooSmall", "MalformedXML", "S3_UPLOAD_PART_MIN_SIZE", "md5_hash")):
        s3_models.FakeMultipart.complete = complete

    # The whole-object checksum moto computes at completion when the client named none (S3 gives
    # such uploads a CRC64NVME; without awscrt moto falls back to CRC32): the same value, computed
    # part by part instead of over a copy of the whole object. moto first joined a 1 GiB object
    # into a second buffer and copied that again (12 s of a 1 GiB upload's completion here).
    import base64
    import binascii
    from moto.s3.utils import HAS_CRT

    if not HAS_CRT:
        builder = s3_models.MultipartChecksumBuilder
        original_add, original_build = builder.addPart, builder.build

        def add_part(self, part):
            if self.checksum_type == "FULL_OBJECT" and self.checksum_algorithm in ("CRC64NVME", "CRC32"):
                self._swamp_crc = binascii.crc32(part, getattr(self, "_swamp_crc", 0))
                self.part_count += 1
            else:
                original_add(self, part)

        def build(self):
            if hasattr(self, "_swamp_crc"):
                return (self.checksum_type, base64.b64encode(self._swamp_crc.to_bytes(4, "big")).decode(), 1)
            return original_build(self)

        builder.addPart, builder.build = add_part, build

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    from moto.core import DEFAULT_ACCOUNT_ID as account
    from moto.s3.models import s3_backends
    from urllib.parse import parse_qs

    def refused_completion(environ):
        """A 412 for a CompleteMultipartUpload whose If-Match does not hold, else None."""
        expected = environ.get("HTTP_IF_MATCH")
        if environ.get("REQUEST_METHOD") != "POST" or not expected or "uploadId" not in parse_qs(environ.get("QUERY_STRING", "")):
            return None
        bucket, _, key = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace").lstrip("/").partition("/")
        try:
            current = s3_backends[account]["global"].get_object(bucket, key)
        except Exception:
            current = None
        if current is not None and current.etag.strip('"') == expected.strip('"'):
            return None
        return (
            b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code>'
            b"<Message>At least one of the pre-conditions you specified did not hold</Message></Error>"
        )

    # When each multipart upload started (moto lists them all as started in 2010).
    import re
    import time
    from moto.s3.models import FakeMultipart

    started = {}
    original_init = FakeMultipart.__init__

    def recording_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        started[self.id] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())

    FakeMultipart.__init__ = recording_init
    listed_upload = re.compile(rb"<UploadId>([^<]*)</UploadId>(.*?)<Initiated>[^<]*</Initiated>", re.S)

    def with_start_times(body):
        return listed_upload.sub(
            lambda m: b"<UploadId>%s</UploadId>%s<Initiated>%s</Initiated>"
            % (m.group(1), m.group(2), started.get(m.group(1).decode(), "2010-11-10T20:48:33.000Z").encode()),
            body,
        )

    def serialised(environ, start_response):
        # The body is read before the lock is taken: a client that stalls or dies mid-body
        # (a killed process, a proxy cut) holds up its own request only, never everyone's.
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(length))
        with lock:
            now_at("in moto")
            unsigned_sts = bool(length) and args.auth and environ["wsgi.input"].getvalue().startswith(b"Action=AssumeRoleWithWebIdentity")
            if unsigned_sts:
                settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
            try:
                return answer(environ, start_response)
            finally:
                if unsigned_sts:
                    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0

    # A plain GET of an object, answered from moto's objects without its web framework (half of
    # its time per request went to Flask's dispatch): the same status, headers and body as moto's
    # `get_object`. Anything else - a query, a range, a condition other than If-None-Match,
    # checksums, CORS, SSE-C, archived objects, virtual-hosted buckets, --auth - goes to moto.
    from email.utils import formatdate
    import uuid
    from moto.s3.models import ARCHIVE_STORAGE_CLASSES

    plain_get_refusing = ("HTTP_RANGE", "HTTP_IF_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE", "HTTP_ORIGIN", "HTTP_X_AMZ_CHECKSUM_MODE")

    def plain_get(environ, start_response):
        if args.auth or environ.get("REQUEST_METHOD") != "GET" or environ.get("QUERY_STRING") or "HTTP_AUTHORIZATION" not in environ:
            return None
        if any(name in environ for name in plain_get_refusing) or any(name.startswith("HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION") for name in environ):
            return None
        host = environ.get("HTTP_HOST", "").split(":")[0]
        if host not in ("127.0.0.1", "localhost"):
            return None
        bucket_name, _, key_name = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace").lstrip("/").partition("/")
        backend = s3_backends[account]["global"]
        bucket = backend.buckets.get(bucket_name)
        key = bucket.keys.get(key_name) if bucket is not None and key_name else None
        if key is None or not isinstance(key, FakeKey) or key.storage_class in ARCHIVE_STORAGE_CLASSES:
            return None
        if bucket.policy or bucket.logging:
            return None  # moto checks the policy and logs the access, even without --auth
        headers = {}
        if key.version_id != "null":
            headers["x-amz-version-id"] = key.version_id
        headers.update(key.response_dict)
        if environ.get("HTTP_IF_NONE_MATCH") in (key.etag, key.etag.strip('"')):
            status, body = "304 Not Modified", b""
            # As moto answered through werkzeug: no content-* headers, and no Last-Modified.
            headers = {name: value for name, value in headers.items() if not name.lower().startswith("content-") and name.lower() != "last-modified"}
        else:
            status, body = "200 OK", key.value
            headers.update(key.metadata)
            headers["Accept-Ranges"] = "bytes"
        headers["x-amzn-requestid"] = uuid.uuid4().hex
        headers["Access-Control-Allow-Origin"] = "*"
        headers["Date"] = formatdate(usegmt=True)
        if body and not any(str(name).lower() == "content-type" for name in headers):
            headers["Content-Type"] = "binary/octet-stream"
        start_response(status, [(str(name), str(value)) for name, value in headers.items()])
        return [body]

    def answer(environ, start_response):
        quick = plain_get(environ, start_response)
        if quick is not None:
            return quick
        refusal = refused_completion(environ)
        if refusal is not None:
            start_response("412 Precondition Failed", [("Content-Type", "application/xml"), ("Content-Length", str(len(refusal)))])
            return [refusal]
        result = app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close:
                close()
        if environ.get("REQUEST_METHOD") == "GET" and "uploads" in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True):
            body = with_start_times(body)
        return [body]

    server = KeepAliveServer(("127.0.0.1", args.port), serialised)
    info["port"] = server.server_port
    temporary = args.info_file + ".tmp"
    with open(temporary, "w") as handle:
        handle.write("".join(f"{k}={v}\n" for k, v in info.items()))
    os.replace(temporary, args.info_file)

    def stop(*_):
        # In-memory state only: nothing to flush, so leave at once (also when resumed from SIGSTOP).
        os._exit(0)

    threading.Thread(target=watch_for_stalls, args=(float(os.environ.get("SWAMP_S3_SERVER_STALL_SECONDS", "10")),), daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
