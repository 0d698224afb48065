"""Webhook hygiene: methods, body limits, form parsing, content types, unknown routes."""
import pytest

from pyvt import TwilioSigner, checks, encode_form, param
from test_inbound import INBOUND, count_calls


def padded(t, total_len):
    """Tenant params plus a padding parameter so the encoded body is exactly total_len bytes."""
    p = t.params()
    base = len(encode_form(p + [("Pad", "")]))
    assert total_len > base
    p = p + [("Pad", "x" * (total_len - base))]
    assert len(encode_form(p)) == total_len
    return p


# ---------------------------------------------------------------- methods
@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE"])
def test_other_methods_are_405_with_allow(client, tenant, method):
    t = tenant()
    path = INBOUND + ("?" + encode_form(t.params()) if method == "GET" else "")
    r = client.request(method, path, headers={"X-Twilio-Signature": "x"})
    assert r.status_code == 405, (r.status_code, r.text)
    assert "<Gather" not in r.text
    allow = r.headers.get("Allow", "")
    assert "POST" in [m.strip() for m in allow.split(",")], "Allow: %r" % allow


def test_get_signed_like_twilio_is_still_405(client, tenant):
    t = tenant()
    url_path = INBOUND + "?" + encode_form(t.params())
    sig = TwilioSigner.sign(t.token, client.signed_url(url_path))
    r = client.get(url_path, headers={"X-Twilio-Signature": sig})
    checks.status(r, 405)


# ---------------------------------------------------------------- body limits
def test_body_over_default_limit_is_413(client, tenant, pg):
    t = tenant()
    p = padded(t, 64 * 1024 + 1)
    r = client.post_signed(INBOUND, p, t.token)
    checks.status(r, 413)
    assert count_calls(pg, param(p, "CallSid")) == 0


def test_body_at_default_limit_is_accepted(client, tenant):
    t = tenant()
    r = client.post_signed(INBOUND, padded(t, 64 * 1024), t.token)
    checks.greeting(r, t)


def test_chunked_body_over_limit_is_413(client, tenant):
    t = tenant()
    body = encode_form(padded(t, 64 * 1024 + 4096)).encode()
    chunks = (body[i:i + 8192] for i in range(0, len(body), 8192))
    r = client.request("POST", INBOUND, data=chunks,
                       headers={"Content-Type": "application/x-www-form-urlencoded",
                                "X-Twilio-Signature": "x"})
    checks.status(r, 413)


def test_huge_content_length_is_413_without_reading(client):
    import socket
    s = socket.create_connection(("127.0.0.1", int(client.base_url.rsplit(":", 1)[1])), 5)
    try:
        s.sendall(b"POST /voice/inbound HTTP/1.1\r\nHost: localhost\r\n"
                  b"Content-Type: application/x-www-form-urlencoded\r\n"
                  b"Content-Length: 1073741824\r\nX-Twilio-Signature: x\r\n\r\nTo=%2B1")
        s.settimeout(5)
        data = s.recv(4096)
    finally:
        s.close()
    assert data.startswith(b"HTTP/1.1 413"), data[:200]


def test_max_body_directive(tenant, apache_factory, client_for):
    t = tenant()
    ap = apache_factory(vhost_extra="    VoxTwilioMaxBody 1024")
    c = client_for(ap)
    checks.status(c.post_signed(INBOUND, padded(t, 1025), t.token), 413)
    checks.greeting(c.post_signed(INBOUND, padded(t, 1024), t.token), t)


# ---------------------------------------------------------------- form parsing
@pytest.mark.parametrize("body", [
    "a=%zz",
    "To=%2B1555&a=%4",
    "a=%00b",
    "=value",
    "CallerName=%FF",         # not UTF-8: the database would refuse it after the answer
    "CallerName=Jos%C3",
])
def test_malformed_form_is_400(client, body):
    r = client.request("POST", INBOUND, data=body.encode(),
                       headers={"Content-Type": "application/x-www-form-urlencoded",
                                "X-Twilio-Signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="})
    checks.status(r, 400)


@pytest.mark.parametrize("bad", ["Bad=%zz", "CallerName=%C0%AF"])
def test_malformed_form_of_a_known_tenant_is_400(client, tenant, pg, bad):
    t = tenant()
    p = t.params()
    body = encode_form(p) + "&" + bad
    r = client.post_signed(INBOUND, p, t.token, body=body)
    checks.status(r, 400)
    assert count_calls(pg, param(p, "CallSid")) == 0


# ---------------------------------------------------------------- content types
@pytest.mark.parametrize("ctype", ["text/plain", "multipart/form-data; boundary=xyz",
                                   "application/xml"])
def test_non_form_content_type_is_415(client, tenant, ctype):
    t = tenant()
    r = client.post_signed(INBOUND, t.params(), t.token, content_type=ctype)
    checks.status(r, 415)


def test_missing_content_type_is_415(client, tenant):
    t = tenant()
    body = encode_form(t.params())
    sig = TwilioSigner.sign(t.token, client.signed_url(INBOUND), t.params())
    r = client.request("POST", INBOUND, data=body.encode(),
                       headers={"X-Twilio-Signature": sig, "Content-Type": None})
    checks.status(r, 415)


def test_form_content_type_with_charset_is_accepted(client, tenant):
    t = tenant()
    r = client.post_signed(INBOUND, t.params(), t.token,
                           content_type="application/x-www-form-urlencoded; charset=UTF-8")
    checks.greeting(r, t)


# ---------------------------------------------------------------- routes
@pytest.mark.parametrize("path", ["/voice/nope", "/voice/", "/voice/inbound/extra",
                                  "/voice/a/b/inbound"])
def test_unknown_route_is_404(client, tenant, path):
    t = tenant()
    r = client.post_signed(path, t.params(), t.token)
    checks.status(r, 404)


def test_unknown_route_under_a_slug_is_404(client, tenant):
    t = tenant()
    r = client.post_signed("/voice/%s/nope" % t.slug, t.params(), t.token)
    checks.status(r, 404)
