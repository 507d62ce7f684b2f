#!/usr/bin/env python3
"""A local stand-in for Google's OAuth2 token endpoint and the GA4 Data API runReport method, as
documented: the token endpoint takes a service-account JWT (grant_type jwt-bearer), checks its
RS256 signature with the given public key and its claims, and returns an access token; runReport
answers with positional headers, string metric values, rowCount, metadata and propertyQuota,
paging by limit/offset (strings). To exercise the client's retries, the first runReport request
is answered 429 RESOURCE_EXHAUSTED with Retry-After and the second 503. Every request is logged.
It also speaks the Google Analytics User Deletion API (v3 userDeletion/userDeletionRequests:upsert):
a token granted for the analytics.user.deletion scope, a JSON userDeletionRequest resource (kind,
id.type one of APP_INSTANCE_ID, CLIENT_ID, USER_ID, a non-empty id.userId, exactly one of
propertyId, webPropertyId, firebaseProjectId; the property must be the test property), answered
with the resource and its deletionRequestTime; the first upsert is answered 503 (a retry).

Usage: ga4_server.py PORTFILE LOGFILE PUBLIC_KEY_PEM
"""
import base64, datetime, json, sys, threading, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

PORTFILE, LOGFILE, PUBKEY = sys.argv[1:4]
public_key = serialization.load_pem_public_key(open(PUBKEY, "rb").read())
lock = threading.Lock()
state = {"tokens": 0, "reports": 0, "deletions": 0, "scopes": {}}
SCOPE_READ = "https://www.googleapis.com/auth/analytics.readonly"
SCOPE_DELETE = "https://www.googleapis.com/auth/analytics.user.deletion"
PROPERTY = "495696125"
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
                    and claims["scope"] in (SCOPE_READ, SCOPE_DELETE) \
                    and claims["iat"] <= now + 5 and claims["exp"] > now and claims["iss"].endswith(".iam.gserviceaccount.com")
            except Exception as e:  # a bad signature, a malformed token
                ok = False
            log(f"token {'ok' if ok else 'refused'}")
            if not ok:
                return self.reply(401, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
            with lock:
                state["tokens"] += 1
                n = state["tokens"]
                state["scopes"][f"ya29.test-{n}"] = claims["scope"]
            if claims["scope"] == SCOPE_DELETE:
                log("token scope user.deletion")
            return self.reply(200, {"access_token": f"ya29.test-{n}", "expires_in": 3599, "token_type": "Bearer"})
        if self.path == "/analytics/v3/userDeletion/userDeletionRequests:upsert":
            return self.upsert(body)
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


def v3_error(h, status, reason, msg):
    h.reply(status, {"error": {"errors": [{"domain": "global", "reason": reason, "message": msg}],
                               "code": status, "message": msg}})


def upsert(self, body):
    auth = self.headers.get("Authorization", "")
    token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
    scope = state["scopes"].get(token)
    if scope is None:
        log("deletion unauthenticated")
        return v3_error(self, 401, "authError", "Invalid Credentials")
    if scope != SCOPE_DELETE:
        log("deletion insufficient scope")
        return v3_error(self, 403, "insufficientPermissions", "Request had insufficient authentication scopes.")
    if not self.headers.get("Content-Type", "").startswith("application/json"):
        return v3_error(self, 400, "parseError", "This API does not support parsing form-encoded input.")
    try:
        req = json.loads(body)
        assert isinstance(req, dict)
    except Exception:
        log("deletion parse error")
        return v3_error(self, 400, "parseError", "Parse Error")
    uid = req.get("id")
    targets = [k for k in ("propertyId", "webPropertyId", "firebaseProjectId") if req.get(k)]
    if req.get("kind", "analytics#userDeletionRequest") != "analytics#userDeletionRequest":
        problem = "kind must be analytics#userDeletionRequest"
    elif not isinstance(uid, dict) or uid.get("type") not in ("APP_INSTANCE_ID", "CLIENT_ID", "USER_ID"):
        problem = "Invalid value for id.type"
    elif not isinstance(uid.get("userId"), str) or not uid["userId"]:
        problem = "Required field id.userId is missing"
    elif len(targets) != 1:
        problem = "Exactly one of propertyId, webPropertyId or firebaseProjectId is required"
    else:
        problem = None
    if problem:
        log(f"deletion invalid: {problem}")
        return v3_error(self, 400, "invalidParameter", problem)
    if req.get("propertyId") != PROPERTY:
        log("deletion forbidden property")
        return v3_error(self, 403, "insufficientPermissions",
                        "User does not have sufficient permissions for this property.")
    with lock:
        state["deletions"] += 1
        n = state["deletions"]
    if n == 1:
        log("deletion 503")
        return v3_error(self, 503, "backendError", "Backend Error")
    now = datetime.datetime.now(datetime.timezone.utc)
    t = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    log(f"deletion ok type={uid['type']}")
    return self.reply(200, {"kind": "analytics#userDeletionRequest",
                            "id": {"type": uid["type"], "userId": uid["userId"]},
                            "propertyId": PROPERTY, "deletionRequestTime": t})


H.upsert = upsert
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
