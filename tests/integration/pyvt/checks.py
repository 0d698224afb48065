"""Assertions about the gateway's answers, shared by the tests and the demo."""
from .twiml import XML_DECL, Twiml

TWIML_CONTENT_TYPE = "text/xml; charset=utf-8"


def _show(r):
    return "HTTP %d %s\n%s" % (r.status_code, dict(r.headers), r.text[:2000])


def twiml_response(r):
    """A 200 TwiML answer as Twilio needs it; returns the parsed document."""
    assert r.status_code == 200, _show(r)
    ct = r.headers.get("Content-Type", "")
    assert ct.lower().replace(" ", "") == TWIML_CONTENT_TYPE.replace(" ", ""), \
        "Content-Type %r, want %r\n%s" % (ct, TWIML_CONTENT_TYPE, _show(r))
    assert "Content-Length" in r.headers, "no Content-Length header\n" + _show(r)
    assert int(r.headers["Content-Length"]) == len(r.content), _show(r)
    assert "chunked" not in r.headers.get("Transfer-Encoding", ""), _show(r)
    assert r.content.startswith(XML_DECL.encode()), \
        "body must start with %s (no BOM/whitespace)\n%s" % (XML_DECL, _show(r))
    try:
        return Twiml(r.content)
    except Exception as e:  # noqa: BLE001
        raise AssertionError("TwiML does not parse (%s)\n%s" % (e, _show(r)))


def greeting(r, tenant):
    """<Response><Gather input="speech" action="speech?t=1&ni=0&nm=0" method="POST">
    <Say voice language>greeting</Say></Gather>...</Response> (the action is relative to the
    inbound URL and carries the first turn's state)"""
    t = twiml_response(r)
    g = t.gather
    assert g is not None, "no top-level <Gather>\n" + _show(r)
    assert g.get("input") == "speech", _show(r)
    assert g.get("action") == "speech?t=1&ni=0&nm=0", _show(r)
    assert (g.get("method") or "POST").upper() == "POST", _show(r)
    says = g.findall("Say")
    assert len(says) == 1, "want one <Say> inside <Gather>\n" + _show(r)
    say = says[0]
    assert say.text == tenant.greeting, "Say %r != greeting %r" % (say.text, tenant.greeting)
    if tenant.voice:
        assert say.get("voice") == tenant.voice, _show(r)
    if tenant.language:
        assert say.get("language") == tenant.language, _show(r)
    assert "Hangup" not in t.verbs[:1], _show(r)
    return t


def not_in_service(r, tenant=None):
    """'not in service' <Say> then <Hangup/>; nothing of any tenant in it."""
    t = twiml_response(r)
    spoken = " ".join(t.spoken()).lower()
    assert "not in service" in spoken, _show(r)
    assert t.say_then_hangup() and t.ends_with_hangup(), _show(r)
    assert t.gather is None, _show(r)
    if tenant is not None:
        for secret in (tenant.greeting, tenant.name, tenant.slug, tenant.token):
            assert secret not in r.text, "%r leaked into %s" % (secret, r.text)
    return t


def apology(r):
    """The generic apology: a <Say> then <Hangup/>, status 200, never a 5xx."""
    t = twiml_response(r)
    assert t.says, _show(r)
    assert t.say_then_hangup() and t.ends_with_hangup(), _show(r)
    assert t.gather is None, _show(r)
    spoken = " ".join(t.spoken()).lower()
    assert "sorry" in spoken, _show(r)
    assert "not in service" not in spoken, _show(r)
    return t


def forbidden(r, tenant=None, signature=None):
    """403 with an empty or generic body that gives nothing away."""
    assert r.status_code == 403, _show(r)
    body = r.text
    assert len(body) < 2048, _show(r)
    low = body.lower()
    for word in ("signature", "x-twilio", "hmac", "mismatch", "token", "expected"):
        assert word not in low, "403 body mentions %r:\n%s" % (word, body)
    leaks = [signature] if signature else []
    if tenant is not None:
        leaks += [tenant.token, tenant.account_sid, tenant.slug, tenant.greeting, tenant.name]
    for s in leaks:
        assert s not in body, "403 body contains %r:\n%s" % (s, body)
    assert "<Say" not in body and "<Gather" not in body, _show(r)


def status(r, code):
    assert r.status_code == code, "want %d\n%s" % (code, _show(r))
    assert "<Gather" not in r.text, _show(r)
    return r
