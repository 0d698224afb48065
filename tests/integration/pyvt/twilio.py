"""Plays Twilio: computes X-Twilio-Signature independently of the C code, builds realistic
voice webhook parameters and POSTs them (signed) to the gateway."""
import base64
import hashlib
import hmac
import os
import random
import urllib.parse
import uuid

import requests


def _pairs(params):
    """params as a list of (name, value): accepts a dict (values may be lists) or pairs."""
    if params is None:
        return []
    if isinstance(params, dict):
        out = []
        for k, v in params.items():
            if isinstance(v, (list, tuple)):
                out.extend((k, x) for x in v)
            else:
                out.append((k, v))
        return out
    return list(params)


class TwilioSigner:
    """X-Twilio-Signature as Twilio's helper libraries compute it (reference §2.1/§2.2)."""

    @staticmethod
    def data(url, params=None):
        values = {}
        for k, v in _pairs(params):
            values.setdefault(k, set()).add(v)
        s = url
        for name in sorted(values):
            for v in sorted(values[name]):
                s += name + v
        return s

    @classmethod
    def sign(cls, auth_token, url, params=None):
        mac = hmac.new(auth_token.encode("utf-8"), cls.data(url, params).encode("utf-8"),
                       hashlib.sha1)
        return base64.b64encode(mac.digest()).decode("ascii")

    @staticmethod
    def body_sha256(body):
        if isinstance(body, str):
            body = body.encode("utf-8")
        return hashlib.sha256(body).hexdigest()

    @classmethod
    def url_with_body_sha256(cls, url, body):
        return url + ("&" if "?" in url else "?") + "bodySHA256=" + cls.body_sha256(body)

    @classmethod
    def sign_json(cls, auth_token, url_with_hash):
        """The JSON variant: the URL (already carrying bodySHA256) is signed alone."""
        return cls.sign(auth_token, url_with_hash, None)

    @classmethod
    def validate(cls, auth_token, url, params, signature):
        return hmac.compare_digest(cls.sign(auth_token, url, params), signature)


# ---------------------------------------------------------------- identifiers
def random_hex(n=32):
    return os.urandom(n // 2 + 1).hex()[:n]


def new_call_sid():
    return "CA" + random_hex(32)


def new_account_sid():
    return "AC" + random_hex(32)


def new_auth_token():
    return random_hex(32)


_used_numbers = set()


def new_number(prefix="+1555"):
    """A fresh E.164 number, unique within this process."""
    while True:
        n = prefix + "".join(random.choice("0123456789") for _ in range(12 - len(prefix)))
        if n not in _used_numbers:
            _used_numbers.add(n)
            return n


def voice_params(account_sid, from_, to, call_sid=None, call_status="ringing",
                 direction="inbound", extra=None):
    """An incoming-call webhook's parameters, in the order Twilio sends them."""
    p = [
        ("AccountSid", account_sid),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", call_sid or new_call_sid()),
        ("CallStatus", call_status),
        ("CallToken", "%7B%22parentCallInfoToken%22%3A%22eyJhbGciOiJFUzI1NiJ9%22%7D"),
        ("Called", to),
        ("CalledCity", "SAN FRANCISCO"),
        ("CalledCountry", "US"),
        ("CalledState", "CA"),
        ("CalledZip", "94105"),
        ("Caller", from_),
        ("CallerCity", "OAKLAND"),
        ("CallerCountry", "US"),
        ("CallerState", "CA"),
        ("CallerZip", "94612"),
        ("Direction", direction),
        ("From", from_),
        ("FromCity", "OAKLAND"),
        ("FromCountry", "US"),
        ("FromState", "CA"),
        ("FromZip", "94612"),
        ("StirVerstat", "TN-Validation-Passed-A"),
        ("To", to),
        ("ToCity", "SAN FRANCISCO"),
        ("ToCountry", "US"),
        ("ToState", "CA"),
        ("ToZip", "94105"),
    ]
    if extra:
        p.extend(_pairs(extra))
    return p


def new_message_sid(media=False):
    return ("MM" if media else "SM") + random_hex(32)


def message_params(account_sid, from_, to, body, message_sid=None, media=(), whatsapp=False,
                   extra=None):
    """An inbound SMS/MMS (or WhatsApp, with whatsapp:+E164 addresses) webhook's parameters,
    as Twilio sends them; media: (url, content_type) pairs."""
    addr = (lambda n: "whatsapp:" + n) if whatsapp else (lambda n: n)
    sid = message_sid or new_message_sid(bool(media))
    p = [("ToCountry", "US"), ("ToState", "CA"), ("SmsMessageSid", sid),
         ("NumMedia", str(len(media))), ("ToCity", "SAN FRANCISCO"), ("FromZip", "94612"),
         ("SmsSid", sid), ("FromState", "CA"), ("SmsStatus", "received"),
         ("FromCity", "OAKLAND"), ("Body", body), ("FromCountry", "US"), ("To", addr(to)),
         ("MessagingServiceSid", "MG" + "0" * 32), ("ToZip", "94105"),
         ("NumSegments", "1"), ("MessageSid", sid), ("AccountSid", account_sid),
         ("From", addr(from_)), ("ApiVersion", "2010-04-01")]
    for i, (url, ctype) in enumerate(media):
        p += [("MediaContentType%d" % i, ctype), ("MediaUrl%d" % i, url)]
    if whatsapp:
        p += [("ProfileName", "Ana"), ("WaId", from_.lstrip("+")), ("MessageType",
                                                                      "image" if media else "text")]
    if extra:
        p.extend(_pairs(extra))
    return p


def param(params, name):
    for k, v in _pairs(params):
        if k == name:
            return v
    return None


def replace_param(params, name, value):
    return [(k, value if k == name else v) for k, v in _pairs(params)]


def encode_form(params):
    return urllib.parse.urlencode(_pairs(params))


# ---------------------------------------------------------------- client
class WebhookClient:
    """Sends webhooks to one gateway base URL (http://127.0.0.1:PORT) and records every
    response body and header in the capture (for the secrets check)."""

    def __init__(self, base_url, capture=None, timeout=15):
        self.base_url = base_url.rstrip("/")
        self.capture = capture
        self.timeout = timeout
        self.session = requests.Session()

    def url(self, path):
        return self.base_url + path

    def signed_url(self, path, host=None, scheme="http"):
        """The URL Twilio would have signed for a request to path with the given Host."""
        if host is None:
            host = urllib.parse.urlsplit(self.base_url).netloc
        return "%s://%s%s" % (scheme, host, path)

    def _record(self, r):
        if self.capture is not None:
            self.capture.add_text("HTTP %s %s -> %d" % (r.request.method, r.request.path_url,
                                                        r.status_code), r.content)
            self.capture.add_text("HTTP headers %s" % r.request.path_url,
                                  "\n".join("%s: %s" % kv for kv in r.headers.items()))
        return r

    def request(self, method, path, **kw):
        kw.setdefault("timeout", self.timeout)
        kw.setdefault("allow_redirects", False)
        r = self.session.request(method, self.url(path), **kw)
        return self._record(r)

    def post_signed(self, path, params, auth_token, sign_url=None, sign_params=None,
                    body=None, headers=None, signature=None, sign=True,
                    idempotency_token=None, content_type="application/x-www-form-urlencoded"):
        """POST params form-encoded to path, signed like Twilio.
        sign_url: the URL to sign (default: http://<Host as sent><path>).
        sign_params: params to sign (default: params) - differ to simulate tampering.
        body: raw body to send instead of the encoded params.
        signature: explicit header value; sign=False leaves the header out."""
        hdrs = {"Content-Type": content_type, "User-Agent": "TwilioProxy/1.1",
                "I-Twilio-Idempotency-Token": idempotency_token or str(uuid.uuid4())}
        if headers:
            hdrs.update(headers)
        if sign:
            if signature is None:
                signature = TwilioSigner.sign(auth_token, sign_url or self.signed_url(path),
                                              params if sign_params is None else sign_params)
            hdrs["X-Twilio-Signature"] = signature
        data = encode_form(params) if body is None else body
        return self.request("POST", path, data=data, headers=hdrs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)
