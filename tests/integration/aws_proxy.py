#!/usr/bin/env python3
"""A fault-injecting HTTP proxy in front of moto for tests/integration/aws.sh (moto cannot throttle
or die on cue). Forwards every request unchanged (path, query and headers as sent, so SigV4 still
verifies upstream) and:
  --slowdown N    answers the first N requests 503 SlowDown (S3's throttling answer)
  --every K       ... and every K-th request after them
  --max-per-key M ... but never one request (method and path) more than M times: the counter is
                  global, so under concurrent clients one request's retries can keep landing on
                  the K-th place (seen: 6 answers in a row); M below the client's attempts keeps
                  the test deterministic, as real S3 throttles a rate, not one request for ever
  --die-after N   forwards N requests, then exits at once on the next one (the endpoint dies
                  mid-upload: the client sees the connection drop, then connection refused)
  --log FILE      appends one line per request to FILE: the method and the path with its query
Writes its port to PORTFILE.
Usage: aws_proxy.py UPSTREAM PORTFILE [--slowdown N] [--every K] [--max-per-key M] [--die-after N]
                    [--log FILE]"""
import http.client
import http.server
import os
import sys
import threading
import urllib.parse

upstream = urllib.parse.urlsplit(sys.argv[1])
portfile = sys.argv[2]
args = sys.argv[3:]
slowdown = int(args[args.index("--slowdown") + 1]) if "--slowdown" in args else 0
every = int(args[args.index("--every") + 1]) if "--every" in args else 0
max_per_key = int(args[args.index("--max-per-key") + 1]) if "--max-per-key" in args else -1
die_after = int(args[args.index("--die-after") + 1]) if "--die-after" in args else -1
log = args[args.index("--log") + 1] if "--log" in args else None
lock = threading.Lock()
seen = {"n": 0, "throttled": 0}
throttled_key = {}  # (method, path) -> 503 answers given to it

SLOWDOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
            b"<Message>Please reduce your request rate.</Message></Error>")


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_one(self):
        with lock:
            seen["n"] += 1
            n = seen["n"]
            if log:
                with open(log, "a") as f:
                    f.write(f"{self.command} {self.path}\n")
        length = int(self.headers.get("Content-Length") or 0)
        if die_after >= 0 and n > die_after:
            os._exit(0)
        body = self.rfile.read(length) if length else b""
        key = (self.command, self.path)
        with lock:
            throttle = (n <= slowdown or (every and n % every == 0)) and \
                (max_per_key < 0 or throttled_key.get(key, 0) < max_per_key)
            if throttle:
                seen["throttled"] += 1
                throttled_key[key] = throttled_key.get(key, 0) + 1
        if throttle:
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(SLOWDOWN)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(SLOWDOWN)
            return
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("expect", "connection")}
        conn.request(self.command, self.path, body=body if (length or self.command in ("PUT", "POST")) else None,
                     headers=headers)
        r = conn.getresponse()
        data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length", "date", "server"):
                self.send_header(k, v)
        # a HEAD answer tells the object's length without a body
        self.send_header("Content-Length", r.getheader("Content-Length", "0") if self.command == "HEAD"
                         else str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_one


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
