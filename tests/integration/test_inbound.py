"""POST {location}/inbound: tenant resolution, signature verification, TwiML answer."""
import pytest

import pyvt
from pyvt import TwilioSigner, checks, new_number, param, replace_param
from conftest import call_rows

INBOUND = "/voice/inbound"


def count_calls(pg, call_sid):
    return int(pg.scalar("SELECT count(*) FROM calls WHERE call_sid = '%s'" % call_sid))


# ---------------------------------------------------------------- the happy path
def test_valid_signature_answers_greeting_and_records_call(tenant, client, pg):
    t = tenant()
    p = t.params(from_="+14155550123")
    r = client.post_signed(INBOUND, p, t.token)
    checks.greeting(r, t)
    rows = call_rows(pg, param(p, "CallSid"))
    assert rows == [(str(t.company_id), "+14155550123", t.number, "inbound")]


def test_greeting_with_xml_special_characters_is_escaped(tenant, client):
    t = tenant(greeting="Tom & Jerry's <Dental> \"Clinic\": say 'hi' > & <Hangup/>")
    r = client.post_signed(INBOUND, t.params(), t.token)
    checks.greeting(r, t)                       # parses, and the Say text round-trips
    assert "<Dental>" not in r.text and "<Hangup/>" not in r.text


def test_voice_language_and_utf8_greeting(tenant, client):
    t = tenant(voice="Polly.Vicki", language="de-DE",
               greeting="Guten Tag, Zahnarztpraxis Müller – wie kann ich helfen? ☎")
    r = client.post_signed(INBOUND, t.params(), t.token)
    checks.greeting(r, t)


def test_every_number_of_the_integration_routes_to_the_tenant(tenant, client, pg):
    t = tenant(numbers=3)
    for num in t.numbers:
        p = t.params(to=num)
        checks.greeting(client.post_signed(INBOUND, p, t.token), t)
        assert call_rows(pg, param(p, "CallSid"))[0][2] == num


def test_tenants_are_kept_apart(tenant, client):
    a, b = tenant(), tenant()
    checks.greeting(client.post_signed(INBOUND, a.params(), a.token), a)
    checks.greeting(client.post_signed(INBOUND, b.params(), b.token), b)


def test_query_string_is_part_of_the_signed_url(tenant, client):
    t = tenant()
    path = INBOUND + "?foo=1&bar=2"
    checks.greeting(client.post_signed(path, t.params(), t.token), t)
    p = t.params()
    r = client.post_signed(path, p, t.token, sign_url=client.signed_url(INBOUND))
    checks.forbidden(r, t)


def test_signed_url_uses_the_host_header_as_sent(tenant, client):
    t = tenant()
    r = client.post_signed(INBOUND, t.params(), t.token,
                           headers={"Host": "calls.example.com"},
                           sign_url="http://calls.example.com" + INBOUND)
    checks.greeting(r, t)


def test_default_port_variant_is_accepted(tenant, client):
    """Twilio sometimes signs with the scheme's default port; the SDKs accept both."""
    t = tenant()
    r = client.post_signed(INBOUND, t.params(), t.token,
                           headers={"Host": "calls.example.com"},
                           sign_url="http://calls.example.com:80" + INBOUND)
    checks.greeting(r, t)


def test_repeated_and_unicode_params_are_signed_like_twilio(tenant, client):
    t = tenant()
    p = t.params(extra=[("SpeechResult", "Grüße, ça va? 100% + more"),
                        ("Tag", "b"), ("Tag", "a"), ("Tag", "b"), ("Empty", "")])
    checks.greeting(client.post_signed(INBOUND, p, t.token), t)


# ---------------------------------------------------------------- 403s
def test_tampered_body_is_rejected(tenant, client, pg):
    t = tenant()
    signed = t.params(from_="+14155550100")
    sent = replace_param(signed, "From", "+14155550199")
    r = client.post_signed(INBOUND, sent, t.token, sign_params=signed)
    checks.forbidden(r, t)
    assert count_calls(pg, param(sent, "CallSid")) == 0


def test_added_parameter_is_rejected(tenant, client):
    t = tenant()
    signed = t.params()
    sent = signed + [("Digits", "1")]
    checks.forbidden(client.post_signed(INBOUND, sent, t.token, sign_params=signed), t)


def test_wrong_token_is_rejected(tenant, client, pg):
    t = tenant()
    p = t.params()
    sig = TwilioSigner.sign(pyvt.new_auth_token(), client.signed_url(INBOUND), p)
    r = client.post_signed(INBOUND, p, t.token, signature=sig)
    checks.forbidden(r, t, sig)
    assert count_calls(pg, param(p, "CallSid")) == 0


@pytest.mark.parametrize("sign_url", [
    "{base}/voice/other",
    "{base}/voice/inbound/",
    "{base}/voice/inbound?x=1",
    "http://evil.example.com/voice/inbound",
    "https://{hostport}/voice/inbound",
    "http://127.0.0.2:{port}/voice/inbound",
], ids=["other-path", "trailing-slash", "extra-query", "other-host", "https", "other-ip"])
def test_signature_for_another_url_is_rejected(tenant, client, apache, sign_url):
    t = tenant()
    hostport = "127.0.0.1:%d" % apache.port
    url = sign_url.format(base=client.base_url, hostport=hostport, port=apache.port)
    r = client.post_signed(INBOUND, t.params(), t.token, sign_url=url)
    checks.forbidden(r, t)


def test_missing_signature_header_is_rejected(tenant, client, pg):
    t = tenant()
    p = t.params()
    r = client.post_signed(INBOUND, p, t.token, sign=False)
    checks.forbidden(r, t)
    assert count_calls(pg, param(p, "CallSid")) == 0


@pytest.mark.parametrize("sig", ["", "not-base64!", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "A" * 4000],
                         ids=["empty", "not-base64", "other-request", "huge"])
def test_garbage_signature_is_rejected(tenant, client, sig):
    t = tenant()
    checks.forbidden(client.post_signed(INBOUND, t.params(), t.token, signature=sig), t)


def test_signature_is_case_sensitive(tenant, client):
    t = tenant()
    p = t.params()
    sig = TwilioSigner.sign(t.token, client.signed_url(INBOUND), p)
    flipped = sig.swapcase()
    assert flipped != sig
    checks.forbidden(client.post_signed(INBOUND, p, t.token, signature=flipped), t)


def test_x_forwarded_headers_are_ignored(tenant, client):
    """A request signed for the forwarded (public) URL is rejected when no
    VoxTwilioPublicURL is configured; the forwarded headers never change the signed URL."""
    t = tenant()
    fwd = {"X-Forwarded-Host": "calls.example.com", "X-Forwarded-Proto": "https",
           "X-Forwarded-Port": "443", "X-Forwarded-For": "54.172.60.1",
           "Forwarded": "for=54.172.60.1;proto=https;host=calls.example.com"}
    r = client.post_signed(INBOUND, t.params(), t.token, headers=fwd,
                           sign_url="https://calls.example.com" + INBOUND)
    checks.forbidden(r, t)
    # ...and signed for the URL as actually requested it still passes despite the headers.
    checks.greeting(client.post_signed(INBOUND, t.params(), t.token, headers=fwd), t)


# ---------------------------------------------------------------- tenant resolution
def test_other_tenants_account_sid_is_not_in_service(tenant, client, pg):
    a, b = tenant(), tenant()
    # To is a's number, but AccountSid and signature are b's.
    p = a.params(account_sid=b.account_sid)
    r = client.post_signed(INBOUND, p, b.token)
    checks.not_in_service(r, a)
    checks.not_in_service(r, b)
    assert count_calls(pg, param(p, "CallSid")) == 0


def test_other_account_sid_signed_with_the_tenants_token_is_not_in_service(tenant, client, pg):
    a = tenant()
    p = a.params(account_sid=pyvt.new_account_sid())
    r = client.post_signed(INBOUND, p, a.token)
    assert r.status_code in (200, 403), r.text
    if r.status_code == 200:
        checks.not_in_service(r, a)
    assert count_calls(pg, param(p, "CallSid")) == 0


def test_unknown_number_is_not_in_service(tenant, client, pg):
    t = tenant()
    p = t.params(to=new_number())
    r = client.post_signed(INBOUND, p, t.token)
    checks.not_in_service(r, t)
    assert count_calls(pg, param(p, "CallSid")) == 0


def test_missing_to_is_not_in_service_or_400(tenant, client, pg):
    t = tenant()
    p = [(k, v) for k, v in t.params() if k not in ("To", "Called")]
    r = client.post_signed(INBOUND, p, t.token)
    assert r.status_code in (200, 400), r.text
    if r.status_code == 200:
        checks.not_in_service(r, t)
    assert count_calls(pg, param(p, "CallSid")) == 0


def test_disabled_company_is_not_in_service_until_enabled(tenant, client, admin, pg):
    t = tenant()
    r = admin("company", "disable", t.slug)
    assert r.rc == 0, r
    p = t.params()
    checks.not_in_service(client.post_signed(INBOUND, p, t.token), t)
    assert count_calls(pg, param(p, "CallSid")) == 0
    r = admin("company", "enable", t.slug)
    assert r.rc == 0, r
    checks.greeting(client.post_signed(INBOUND, t.params(), t.token), t)


def test_slug_route_resolves_the_tenant_by_slug(tenant, client, pg):
    t = tenant()
    path = "/voice/%s/inbound" % t.slug
    # To is not one of the tenant's numbers: only the slug can find the tenant.
    p = t.params(to=new_number())
    r = client.post_signed(path, p, t.token)
    checks.greeting(r, t)
    assert call_rows(pg, param(p, "CallSid"))[0][0] == str(t.company_id)


def test_slug_route_signature_covers_the_slug_path(tenant, client):
    t = tenant()
    r = client.post_signed("/voice/%s/inbound" % t.slug, t.params(), t.token,
                           sign_url=client.signed_url(INBOUND))
    checks.forbidden(r, t)


def test_slug_route_unknown_slug_is_not_in_service(tenant, client, pg):
    t = tenant()
    p = t.params()
    r = client.post_signed("/voice/no-such-tenant-%s/inbound" % pyvt.twilio.random_hex(6), p,
                           t.token)
    checks.not_in_service(r, t)
    assert count_calls(pg, param(p, "CallSid")) == 0


def test_slug_route_with_another_tenants_account_is_not_in_service(tenant, client, pg):
    a, b = tenant(), tenant()
    p = b.params()
    r = client.post_signed("/voice/%s/inbound" % a.slug, p, b.token)
    checks.not_in_service(r, a)
    assert count_calls(pg, param(p, "CallSid")) == 0


def test_vhost_tenant_directive(tenant, apache_factory, client_for, pg):
    a, b = tenant(), tenant()
    ap = apache_factory(vhost_extra="    VoxTwilioTenant %s" % a.slug)
    c = client_for(ap)
    p = a.params(to=new_number())
    checks.greeting(c.post_signed(INBOUND, p, a.token), a)
    assert call_rows(pg, param(p, "CallSid"))[0][0] == str(a.company_id)
    # b's call (b's number, account and token) on a vhost fixed to a: never b's data.
    p = b.params()
    checks.not_in_service(c.post_signed(INBOUND, p, b.token), b)
    assert count_calls(pg, param(p, "CallSid")) == 0


# ---------------------------------------------------------------- VoxTwilioPublicURL
def test_public_url_is_the_signed_base(tenant, apache_factory, client_for):
    t = tenant()
    ap = apache_factory(vhost_extra="    VoxTwilioPublicURL https://calls.example.com")
    c = client_for(ap)
    checks.greeting(c.post_signed(INBOUND, t.params(), t.token,
                                  sign_url="https://calls.example.com" + INBOUND), t)
    # with the query string and the default-port variant
    checks.greeting(c.post_signed(INBOUND + "?a=1&b=x%20y", t.params(), t.token,
                                  sign_url="https://calls.example.com:443" + INBOUND +
                                  "?a=1&b=x%20y"), t)
    # signed for the local URL (Host header as sent): rejected
    checks.forbidden(c.post_signed(INBOUND, t.params(), t.token), t)
    # X-Forwarded-* cannot move it elsewhere either
    fwd = {"X-Forwarded-Host": "other.example.com", "X-Forwarded-Proto": "https"}
    checks.forbidden(c.post_signed(INBOUND, t.params(), t.token, headers=fwd,
                                   sign_url="https://other.example.com" + INBOUND), t)
    checks.greeting(c.post_signed(INBOUND, t.params(), t.token, headers=fwd,
                                  sign_url="https://calls.example.com" + INBOUND), t)


def test_public_url_with_trailing_slash_is_normalized(tenant, apache_factory, client_for):
    t = tenant()
    ap = apache_factory(vhost_extra="    VoxTwilioPublicURL https://calls.example.com/")
    c = client_for(ap)
    checks.greeting(c.post_signed(INBOUND, t.params(), t.token,
                                  sign_url="https://calls.example.com" + INBOUND), t)


# ---------------------------------------------------------------- URL variants the SDKs accept
def test_port_removed_variant_is_accepted(tenant, client):
    """Twilio may sign the URL without the port it connected to (reference §2.3)."""
    t = tenant()
    checks.greeting(client.post_signed(INBOUND, t.params(), t.token,
                                       sign_url="http://127.0.0.1" + INBOUND), t)


def test_apostrophe_percent27_variant_is_accepted(tenant, client):
    t = tenant()
    path = INBOUND + "?name=O'Brien"
    checks.greeting(client.post_signed(path, t.params(), t.token,
                                       sign_url=client.signed_url(INBOUND + "?name=O%27Brien")),
                    t)
    checks.greeting(client.post_signed(path, t.params(), t.token), t)


def test_content_type_is_case_insensitive(tenant, client):
    t = tenant()
    r = client.post_signed(INBOUND, t.params(), t.token,
                           content_type="Application/X-WWW-Form-URLEncoded")
    checks.greeting(r, t)
