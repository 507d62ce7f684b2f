#!/usr/bin/env python3
"""Serves AWS credentials the way the container credentials endpoint and the EC2 instance metadata
service (IMDSv2 only: a session token first) do, for the credentials-chain part of
tests/integration/aws.sh. The credentials are real ones of the moto user (from the environment),
with an expiry an hour ahead. Writes its port to PORTFILE. Usage: aws_creds_server.py PORTFILE"""
import datetime
import http.server
import json
import os
import sys

AK, SK = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
TOKEN = "imds-session-token-1"
exp = (datetime.datetime.utcnow() + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
CREDS = json.dumps({"Code": "Success", "AccessKeyId": AK, "SecretAccessKey": SK, "Token": "",
                    "Expiration": exp}).encode()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            return self.reply(200, TOKEN.encode())
        self.reply(400, b"")

    def do_GET(self):
        if self.path == "/container/creds":
            if self.headers.get("Authorization") != "container-secret":
                return self.reply(401, b"")
            return self.reply(200, CREDS)
        if self.path.startswith("/latest/meta-data/iam/security-credentials/"):
            if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
                return self.reply(401, b"")  # IMDSv1 is refused
            role = self.path.rsplit("/", 1)[1]
            if not role:
                return self.reply(200, b"mdp-role")
            if role == "mdp-role":
                return self.reply(200, CREDS)
        self.reply(404, b"")


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
srv.serve_forever()
