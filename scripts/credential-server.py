#!/usr/bin/env python3
"""Plays the AWS credential endpoints for swamp's tests, on 127.0.0.1 only.

Usage: credential-server.py --info-file PATH --access-key-id ID --secret-access-key SECRET
                            [--token T] [--expires-in SECONDS] [--container-authorization TOKEN]
                            [--sso-token TOKEN]

Serves the same credentials (Expiration: now + --expires-in, default 3600 s) three ways:
- EC2 instance metadata, IMDSv2 only: PUT /latest/api/token (needs the TTL header) gives a session
  token; GET /latest/meta-data/iam/security-credentials/ (needs that token, else 401) names the
  role `swamp-instance-role`, and GET …/swamp-instance-role gives the credentials.
- container credentials: GET /container/credentials, whose Authorization header must equal
  --container-authorization (else 401).
- the IAM Identity Center portal: GET /federation/credentials?role_name=&account_id=, whose
  x-amz-sso_bearer_token header must equal --sso-token (else 401).
Every request is logged — method, path without query, status, which auth header was present
(never its value) — at GET /__log as JSON. Writes "port=N" to the info file once listening.
"""
import argparse
import json
import os
import secrets
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--info-file", required=True)
    parser.add_argument("--access-key-id", required=True)
    parser.add_argument("--secret-access-key", required=True)
    parser.add_argument("--token")
    parser.add_argument("--expires-in", type=int, default=3600)
    parser.add_argument("--container-authorization")
    parser.add_argument("--sso-token")
    args = parser.parse_args()

    lock = threading.Lock()
    log = []
    imds_tokens = set()

    def expiration():
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + args.expires_in))

    def credentials():
        document = {"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": args.access_key_id,
                    "SecretAccessKey": args.secret_access_key, "Expiration": expiration()}
        if args.token:
            document["Token"] = args.token
        return document

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def reply(self, status, body, content_type="application/json"):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            path = self.path.split("?", 1)[0]
            headers = [h for h in ("X-aws-ec2-metadata-token", "X-aws-ec2-metadata-token-ttl-seconds", "Authorization",
                                   "x-amz-sso_bearer_token") if self.headers.get(h) is not None]
            if path != "/__log":
                with lock:
                    log.append({"method": self.command, "path": path, "status": status, "headers": headers})
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def handle_request(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            path, _, query = self.path.partition("?")
            if path == "/__log":
                with lock:
                    return self.reply(200, list(log))
            if path == "/latest/api/token" and self.command == "PUT":
                if not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                    return self.reply(400, b"missing TTL", "text/plain")
                token = secrets.token_hex(16)
                with lock:
                    imds_tokens.add(token)
                return self.reply(200, token.encode(), "text/plain")
            if path.startswith("/latest/meta-data/iam/security-credentials/"):
                with lock:
                    valid = self.headers.get("X-aws-ec2-metadata-token") in imds_tokens
                if not valid:
                    return self.reply(401, b"", "text/plain")
                role = path[len("/latest/meta-data/iam/security-credentials/"):]
                if role == "":
                    return self.reply(200, b"swamp-instance-role", "text/plain")
                if role == "swamp-instance-role":
                    return self.reply(200, credentials())
                return self.reply(404, b"", "text/plain")
            if path == "/container/credentials":
                if self.headers.get("Authorization") != args.container_authorization:
                    return self.reply(401, {"message": "unauthorized"})
                return self.reply(200, credentials())
            if path == "/federation/credentials":
                if not args.sso_token or self.headers.get("x-amz-sso_bearer_token") != args.sso_token:
                    return self.reply(401, {"message": "Session token not found or invalid"})
                document = credentials()
                millis = int((time.time() + args.expires_in) * 1000)
                role = {"accessKeyId": document["AccessKeyId"], "secretAccessKey": document["SecretAccessKey"], "expiration": millis}
                if args.token:
                    role["sessionToken"] = args.token
                return self.reply(200, {"roleCredentials": role})
            return self.reply(404, {"message": "not found"})

        do_GET = do_PUT = do_POST = handle_request

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    temporary = args.info_file + ".tmp"
    with open(temporary, "w") as info:
        info.write(f"port={server.server_port}\n")
    os.replace(temporary, args.info_file)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
