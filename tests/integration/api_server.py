#!/usr/bin/env python3
"""A local stand-in for the Business Information API (accounts.locations.list: readMask required,
pageSize/pageToken paging, nextPageToken absent on the last page) and the Graph API (/me/accounts
with paging.next, IG user nodes, OAuthException 190 for an expired token), as documented. Bearer
tokens: gbp-token, meta-token, meta-expired (190), meta-evil (a paging.next to another host).

Usage: api_server.py PORTFILE LOGFILE
"""
import json, os, sys, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORTFILE, LOGFILE = sys.argv[1:3]


def log(line):
    with open(LOGFILE, "a") as f:
        f.write(line + "\n")


def location(i):
    return {"name": f"locations/48273625190384756{i:02d}", "title": f"Trattoria {i}",
            "storefrontAddress": {"regionCode": "DE", "postalCode": "10115", "locality": "Berlin",
                                  "addressLines": [f"Hauptstraße {i}"]},
            "regularHours": {"periods": [{"openDay": "MONDAY", "openTime": {"hours": 11},
                                          "closeDay": "MONDAY", "closeTime": {"hours": 24}}]},
            "metadata": {"placeId": f"ChIJTestPlace{i:04d}", "canDelete": True}}


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, status, body):
        data = json.dumps(body, indent=2).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        log(f"GET {u.path} token={'set' if token else 'none'} {'access_token-in-url' if 'access_token' in q else ''}")
        if u.path.startswith("/v1/accounts/"):
            if token != "gbp-token":
                return self.reply(401, {"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                                                  "status": "UNAUTHENTICATED"}})
            if "readMask" not in q:
                return self.reply(400, {"error": {"code": 400, "message": "readMask is required", "status": "INVALID_ARGUMENT"}})
            acct = u.path.split("/")[3]
            if acct == "222":
                return self.reply(200, {})
            if q.get("pageToken") == ["p2"]:
                return self.reply(200, {"locations": [location(3)]})
            return self.reply(200, {"locations": [location(1), location(2)], "nextPageToken": "p2"})
        if token == "meta-expired":
            return self.reply(400, {"error": {"message": "Error validating access token: Session has expired",
                                              "type": "OAuthException", "code": 190, "error_subcode": 463,
                                              "fbtrace_id": "AbCdEfGh"}})
        if token not in ("meta-token", "meta-evil"):
            return self.reply(400, {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}})
        host = self.headers.get("Host")
        if u.path == "/me/accounts":
            if q.get("after") == ["c2"]:
                return self.reply(200, {"data": [{"access_token": "EAAEXAMPLEPAGETOKENc", "category": "Bar",
                                                  "name": "Kiez Bar", "id": "104500000000003", "tasks": ["ANALYZE"]}],
                                        "paging": {"cursors": {"before": "c2", "after": "c3"}}})
            nxt = f"http://{host}/me/accounts?after=c2&limit=100" if token == "meta-token" else "http://evil.example/me/accounts?after=c2"
            return self.reply(200, {"data": [
                {"access_token": "EAAEXAMPLEPAGETOKENa", "category": "Restaurant", "name": "Trattoria Roma",
                 "id": "104500000000001", "tasks": ["ANALYZE", "MANAGE"],
                 "instagram_business_account": {"id": "17841400000000001"}},
                {"access_token": "EAAEXAMPLEPAGETOKENb", "category": "Cafe", "name": "Café Kranich",
                 "id": "104500000000002", "tasks": ["ANALYZE"]}],
                "paging": {"cursors": {"before": "c1", "after": "c2"}, "next": nxt}})
        if u.path == "/17841400000000001":
            return self.reply(200, {"id": "17841400000000001", "username": "trattoria_roma", "name": "Trattoria Roma",
                                    "followers_count": 2048, "follows_count": 180, "media_count": 312})
        self.reply(404, {"error": {"message": "Unknown path", "type": "GraphMethodException", "code": 100}})


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
