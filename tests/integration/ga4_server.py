#!/usr/bin/env python3
"""A local stand-in for Google's OAuth2 token endpoint and the GA4 Data API runReport method, as
documented: the token endpoint takes a service-account JWT (grant_type jwt-bearer), checks its
RS256 signature with the given public key and its claims, and returns an access token; runReport
answers with positional headers, string metric values, rowCount, metadata and propertyQuota,
paging by limit/offset (strings). To exercise the client's retries, the first runReport request
is answered 429 RESOURCE_EXHAUSTED with Retry-After and the second 503. Every request is logged.

Usage: ga4_server.py PORTFILE LOGFILE PUBLIC_KEY_PEM
"""
import base64, datetime, json, sys, threading, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

PORTFILE, LOGFILE, PUBKEY = sys.argv[1:4]
public_key = serialization.load_pem_public_key(open(PUBKEY, "rb").read())
lock = threading.Lock()
state = {"tokens": 0, "reports": 0}
EVENTS = ["first_visit", "page_view", "scroll", "session_start", "user_engagement"]


def log(line):
    with lock, open(LOGFILE, "a") as f:
        f.write(line + "\n")


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, status, body, headers=()):
        data = json.dumps(body, indent=2).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, code_name, msg, headers=()):
        self.reply(status, {"error": {"code": status, "message": msg, "status": code_name}}, headers)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/token":
            form = urllib.parse.parse_qs(body.decode())
            jwt = form.get("assertion", [""])[0]
            ok = form.get("grant_type") == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
            try:
                h, c, s = jwt.split(".")
                public_key.verify(b64d(s), (h + "." + c).encode(), padding.PKCS1v15(), hashes.SHA256())
                hdr, claims = json.loads(b64d(h)), json.loads(b64d(c))
                now = datetime.datetime.now(datetime.timezone.utc).timestamp()
                ok = ok and hdr.get("alg") == "RS256" and claims["aud"].endswith("/token") \
                    and claims["scope"] == "https://www.googleapis.com/auth/analytics.readonly" \
                    and claims["iat"] <= now + 5 and claims["exp"] > now and claims["iss"].endswith(".iam.gserviceaccount.com")
            except Exception as e:  # a bad signature, a malformed token
                ok = False
            log(f"token {'ok' if ok else 'refused'}")
            if not ok:
                return self.reply(401, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
            with lock:
                state["tokens"] += 1
                n = state["tokens"]
            return self.reply(200, {"access_token": f"ya29.test-{n}", "expires_in": 3599, "token_type": "Bearer"})
        if self.path.startswith("/v1beta/properties/") and self.path.endswith(":runReport"):
            if not self.headers.get("Authorization", "").startswith("Bearer ya29.test-"):
                log("report unauthenticated")
                return self.error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
            with lock:
                state["reports"] += 1
                n = state["reports"]
            if n == 1:
                log("report 429")
                return self.error(429, "RESOURCE_EXHAUSTED", "Exhausted property tokens per hour for the property.",
                                  [("Retry-After", "0")])
            if n == 2:
                log("report 503")
                return self.error(503, "UNAVAILABLE", "The service is currently unavailable.")
            req = json.loads(body)
            limit, offset = int(req.get("limit", 10000)), int(req.get("offset", 0))
            start = datetime.date.fromisoformat(req["dateRanges"][0]["startDate"])
            end = datetime.date.fromisoformat(req["dateRanges"][0]["endDate"])
            rows = []
            d = start
            while d <= end and d < datetime.date(2026, 12, 1):
                for i, ev in enumerate(EVENTS):
                    rows.append({"dimensionValues": [{"value": d.strftime("%Y%m%d")}, {"value": ev}],
                                 "metricValues": [{"value": str(100 * (i + 1) + d.day)}, {"value": str(10 + i)},
                                                  {"value": str(20 + d.day)}]})
                d += datetime.timedelta(days=1)
            page = rows[offset:offset + limit]
            log(f"report offset={offset} limit={limit} rows={len(page)} of {len(rows)}")
            resp = {"dimensionHeaders": [{"name": x["name"]} for x in req["dimensions"]],
                    "metricHeaders": [{"name": x["name"], "type": "TYPE_INTEGER"} for x in req["metrics"]]}
            if page:
                resp["rows"] = page
            if rows:
                resp["rowCount"] = len(rows)
            resp["metadata"] = {"currencyCode": "EUR", "timeZone": "Europe/Berlin"}
            resp["propertyQuota"] = {"tokensPerDay": {"consumed": 3, "remaining": 199990},
                                     "tokensPerHour": {"consumed": 3, "remaining": 39990}}
            resp["kind"] = "analyticsData#runReport"
            return self.reply(200, resp)
        self.error(404, "NOT_FOUND", "no such method")


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
