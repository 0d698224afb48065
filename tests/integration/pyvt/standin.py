"""A local stand-in for api.twilio.com (http.server in a thread on a random loopback port)."""
import base64
import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .twilio import random_hex

_ACCOUNT = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})\.json$")
_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Messages\.json$")
_CALLS = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Calls\.json$")


def _now_rfc2822():
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())

AUTH_ERROR = {"code": 20003, "message": "Authenticate",
              "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}


class RecordedRequest:
    def __init__(self, method, path, query, headers, body):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.form = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        self.auth_user = None
        self.auth_password = None
        auth = headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                u, _, p = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
                self.auth_user, self.auth_password = u, p
            except Exception:
                pass

    def __repr__(self):
        return "<%s %s user=%s>" % (self.method, self.path, self.auth_user)


class TwilioAPIStandIn:
    def __init__(self, host="127.0.0.1", port=0):
        self.accounts = {}      # sid -> (token, friendly_name)
        self.requests = []
        self.messages = []
        self.calls = []         # created with Calls.json; "form" keeps every parameter
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _reply(self, status, obj):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self):
                u = urllib.parse.urlsplit(self.path)
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                req = RecordedRequest(self.command, u.path, u.query, dict(self.headers.items()),
                                      body)
                with standin._lock:
                    standin.requests.append(req)
                status, obj = standin._route(req)
                self._reply(status, obj)

            do_GET = _handle
            do_POST = _handle
            do_PUT = _handle
            do_DELETE = _handle

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = None

    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.port

    def add_account(self, sid, token, friendly_name=None):
        with self._lock:
            self.accounts[sid] = (token, friendly_name or ("Account " + sid[-6:]))

    def requests_for(self, path_part=""):
        with self._lock:
            return [r for r in self.requests if path_part in r.path]

    def clear(self):
        with self._lock:
            self.requests.clear()

    def _authenticated(self, req, sid):
        acct = self.accounts.get(req.auth_user or "")
        return acct is not None and req.auth_user == sid and req.auth_password == acct[0]

    def _route(self, req):
        m = _ACCOUNT.match(req.path)
        if m and req.method == "GET":
            sid = m.group(1)
            if not self._authenticated(req, sid):
                return 401, AUTH_ERROR
            token, name = self.accounts[sid]
            return 200, {"sid": sid, "friendly_name": name, "status": "active", "type": "Full",
                         "owner_account_sid": sid,
                         "date_created": "Thu, 01 Jan 2026 00:00:00 +0000",
                         "uri": "/2010-04-01/Accounts/%s.json" % sid}
        m = _MESSAGES.match(req.path)
        if m and req.method == "POST":
            sid = m.group(1)
            if not self._authenticated(req, sid):
                return 401, AUTH_ERROR
            form = dict(req.form)
            msg = {"sid": "SM" + random_hex(32), "account_sid": sid, "to": form.get("To"),
                   "from": form.get("From"), "body": form.get("Body"), "status": "queued",
                   "direction": "outbound-api", "api_version": "2010-04-01",
                   "date_created": _now_rfc2822(),
                   "num_segments": "1", "error_code": None, "error_message": None}
            msg["uri"] = "/2010-04-01/Accounts/%s/Messages/%s.json" % (sid, msg["sid"])
            with self._lock:
                self.messages.append(msg)
            return 201, msg
        if m and req.method == "GET":
            # the list, newest first, filtered as Twilio filters To and From
            sid = m.group(1)
            if not self._authenticated(req, sid):
                return 401, AUTH_ERROR
            q = dict(urllib.parse.parse_qsl(req.query or ""))
            with self._lock:
                found = [x for x in reversed(self.messages) if x["account_sid"] == sid
                         and x["to"] == q.get("To", x["to"])
                         and x["from"] == q.get("From", x["from"])]
            size = int(q.get("PageSize", "50"))
            return 200, {"messages": found[:size], "page": 0, "page_size": size,
                         "next_page_uri": None,
                         "uri": "/2010-04-01/Accounts/%s/Messages.json" % sid}
        m = _CALLS.match(req.path)
        if m:
            return self._calls(req, m.group(1))
        return 404, {"code": 20404, "message": "The requested resource %s was not found" % req.path,
                     "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404}

    def _calls(self, req, sid):
        """Calls.json: POST creates a queued call (Twilio would now dial and fetch Url);
        GET lists them, newest first, filtered by To and From."""
        if not self._authenticated(req, sid):
            return 401, AUTH_ERROR
        if req.method == "POST":
            form = dict(req.form)
            for need in ("To", "From", "Url"):
                if not form.get(need):
                    return 400, {"code": 21205 if need == "Url" else 21201,
                                 "message": "No '%s' number is specified" % need, "status": 400}
            call = {"sid": "CA" + random_hex(32), "account_sid": sid, "to": form["To"],
                    "from": form["From"], "status": "queued", "direction": "outbound-api",
                    "answered_by": None, "date_created": _now_rfc2822(),
                    "api_version": "2010-04-01", "form": list(req.form)}
            call["uri"] = "/2010-04-01/Accounts/%s/Calls/%s.json" % (sid, call["sid"])
            with self._lock:
                self.calls.append(call)
            return 201, {k: v for k, v in call.items() if k != "form"}
        if req.method == "GET":
            q = dict(urllib.parse.parse_qsl(req.query or ""))
            with self._lock:
                found = [{k: v for k, v in x.items() if k != "form"}
                         for x in reversed(self.calls) if x["account_sid"] == sid
                         and x["to"] == q.get("To", x["to"])
                         and x["from"] == q.get("From", x["from"])]
            size = int(q.get("PageSize", "50"))
            return 200, {"calls": found[:size], "page": 0, "page_size": size,
                         "next_page_uri": None,
                         "uri": "/2010-04-01/Accounts/%s/Calls.json" % sid}
        return 405, {"code": 20004, "message": "Method not allowed", "status": 405}

    def calls_of(self, sid):
        with self._lock:
            return [c for c in self.calls if c["account_sid"] == sid]

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, name="twilio-standin",
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
