#!/usr/bin/env python3
"""moto_server for the tests (scripts/moto.sh): moto's own server with one fix, kept here so that
workarounds for moto's bugs never reach src/.

The fix: moto checks a SigV4 signature against the URL as werkzeug rebuilt it (request.url), in
which percent-escapes the client sent are decoded and re-quoted by werkzeug's rules: '%3D' comes
back as '=', '%2F' in a query value as '/'. S3 (and SigV4 in general) signs the path and query
exactly as sent, so every request for a key or a query value with '=' (the lake's partitions:
dt=2026-10-01) failed moto's check with SignatureDoesNotMatch while AWS accepts it. We let moto
check against the raw request line (RAW_URI, which werkzeug's server keeps).

And one more: moto's threaded server tests If-None-Match and stores the object in two steps
without a lock, so two concurrent conditional puts of one key may both succeed (S3 guarantees that
exactly one does). Conditional puts are serialized here, which gives S3's guarantee. The same holds
for DynamoDB: moto evaluates a ConditionExpression (put-if-absent, put-if-newer, a transaction's
conditions) and writes without a lock, so two racing appenders of the consent journal could both
take one sequence number, where DynamoDB lets exactly one win. DynamoDB requests are serialized
too.

And two for speed, which change nothing a client sees: moto looks for the backend of every request
by listing its own package folder and stat-ing each of its ~180 subfolders (inside a global lock),
which was a sixth of its time per request in bench/aws.sh; the list is read once here. And the
answer's headers and body go out in separate writes, so with Nagle's algorithm on the body waits for
the client's (delayed) ACK of the headers; the server sets TCP_NODELAY as curl does."""
import sys
import threading

from moto import backends
from moto.core import authorization, responses
from moto.moto_server import werkzeug_app
from werkzeug import serving

_modules = tuple(backends.list_of_moto_modules())
backends.list_of_moto_modules = lambda: _modules
serving.WSGIRequestHandler.disable_nagle_algorithm = True

_setup_class = responses.BaseResponse.setup_class
_authenticate = authorization.ActionAuthenticatorMixin._authenticate_and_authorize_action


def setup_class(self, request, full_url, headers, *args, **kwargs):
    result = _setup_class(self, request, full_url, headers, *args, **kwargs)
    environ = getattr(request, "environ", None)
    self._mdp_raw_uri = environ.get("RAW_URI") if isinstance(environ, dict) else None
    return result


def authenticate(self, iam_request_cls, resource="*"):
    raw = getattr(self, "_mdp_raw_uri", None)
    if not raw:
        return _authenticate(self, iam_request_cls, resource)
    saved = self.uri
    self.uri = raw  # only path and query are read from it
    try:
        return _authenticate(self, iam_request_cls, resource)
    finally:
        self.uri = saved


_call = werkzeug_app.DomainDispatcherApplication.__call__
_conditional = threading.Lock()


def call(self, environ, start_response):
    conditional = environ.get("REQUEST_METHOD") == "PUT" and environ.get("HTTP_IF_NONE_MATCH")
    if conditional or environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
        with _conditional:
            # the whole answer is produced inside the lock
            return list(_call(self, environ, start_response))
    return _call(self, environ, start_response)


werkzeug_app.DomainDispatcherApplication.__call__ = call
responses.BaseResponse.setup_class = setup_class
authorization.ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate

from moto.server import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
