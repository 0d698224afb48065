"""The harness itself: the independent signer against Twilio's published vectors, the REST
stand-in, the throwaway PostgreSQL, the admin wrapper and Apache loading the module."""
import os

import pytest
import requests

import pyvt
from pyvt import TwilioSigner

VEC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VEC_PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
              "From": "+14158675309", "To": "+18005551212"}


@pytest.mark.parametrize("url,expected", [
    (VEC_URL, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
    ("https://mycompany.com:443/myapp.php?foo=1&bar=2", "kvajT1Ptam85bY51eRf/AJRuM3w="),
    ("http://mycompany.com:80/myapp.php?foo=1&bar=2", "0ZXoZLH/DfblKGATFgpif+LLRf4="),
    ("http://mycompany.com:1234/myapp.php?foo=1&bar=2", "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),
])
def test_signer_published_vectors(url, expected):
    assert TwilioSigner.sign("12345", url, VEC_PARAMS) == expected


def test_signer_repeated_params_vector():
    params = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"),
              ("Digits", "1234"), ("Digits", "1234")]
    assert TwilioSigner.sign("12345", VEC_URL, params) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


def test_signer_body_sha256_vector():
    body = '{"property": "value", "boolean": true}'
    h = TwilioSigner.body_sha256(body)
    assert h == "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
    assert TwilioSigner.body_sha256("{}") == \
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    url = TwilioSigner.url_with_body_sha256(VEC_URL, body)
    assert TwilioSigner.sign_json("12345", url) == "a9nBmqA0ju/hNViExpshrM61xv4="


def test_signer_data_string_order():
    data = TwilioSigner.data("u", [("b", "2"), ("a", "z"), ("a", "y"), ("B", "1"), ("a", "y")])
    assert data == "uB1ayazb2"


def test_standin_account_fetch(standin):
    sid, token = pyvt.new_account_sid(), pyvt.new_auth_token()
    standin.add_account(sid, token, "Stand-in test")
    url = standin.base_url + "/2010-04-01/Accounts/%s.json" % sid
    r = requests.get(url, auth=(sid, token), timeout=5)
    assert r.status_code == 200
    assert r.json()["sid"] == sid and r.json()["status"] == "active"
    r = requests.get(url, auth=(sid, "wrong"), timeout=5)
    assert r.status_code == 401
    assert r.json() == {"code": 20003, "message": "Authenticate",
                        "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}
    r = requests.get(url, timeout=5)
    assert r.status_code == 401
    recs = standin.requests_for(sid)
    assert [x.method for x in recs[-3:]] == ["GET"] * 3
    assert recs[-3].auth_user == sid and recs[-3].auth_password == token


def test_standin_messages(standin):
    sid, token = pyvt.new_account_sid(), pyvt.new_auth_token()
    standin.add_account(sid, token)
    r = requests.post(standin.base_url + "/2010-04-01/Accounts/%s/Messages.json" % sid,
                      auth=(sid, token), data={"To": "+14155550100", "From": "+15005550006",
                                               "Body": "hi"}, timeout=5)
    assert r.status_code == 201
    m = r.json()
    assert m["sid"].startswith("SM") and m["to"] == "+14155550100" and m["body"] == "hi"
    assert standin.requests_for("/Messages.json")[-1].form == [
        ("To", "+14155550100"), ("From", "+15005550006"), ("Body", "hi")]


def test_pg_roundtrip(pg):
    assert pg.psql("SELECT 1, NULL::text, 'a b'") == [("1", None, "a b")]
    assert pg.psql("SELECT 1 WHERE false") == []
    assert pg.scalar("SELECT current_user") == "voxtwilio"
    assert pg.scalar("SELECT current_database()") == "voxtwilio"
    assert pg.scalar("SHOW listen_addresses") == "127.0.0.1"


def test_built_artifacts(paths):
    for p in (paths.module_so, paths.admin_bin):
        assert os.path.exists(p), "%s was not built (VT_BUILDDIR=%s)" % (p, paths.builddir)


def test_apache_loads_module(apache, client):
    """The session Apache runs with the built module; an unrelated URL is a plain 404."""
    assert apache.running()
    log = apache.read_log()
    assert "resuming normal operations" in log
    r = client.get("/not-voice")
    assert r.status_code == 404


def test_valid_config_passes(config_apache):
    rc, out = config_apache.config_test()
    assert rc == 0, out
    assert "Syntax OK" in out


def test_error_log_scanner():
    crash = ("[Sat Nov 21 10:00:00.1 2026] [core:notice] [pid 1:tid 1] AH00052: child pid 7 "
             "exit signal Segmentation fault (11)")
    err = "[Sat Nov 21 10:00:00.1 2026] [voxtwilio:error] [pid 1:tid 2] VT1: db down"
    crit = "[Sat Nov 21 10:00:00.1 2026] [dbd:crit] [pid 1:tid 2] AH00636: child init failed!"
    info = "[Sat Nov 21 10:00:00.1 2026] [voxtwilio:info] [pid 1:tid 2] error: not an error"
    asan = "==123==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x1"
    text = "\n".join([crash, err, crit, info, asan])
    assert pyvt.scan_log_text(text) == [crash, err, crit, asan]
    # declared lines pass, crashes never do
    assert pyvt.scan_log_text(text, [r"\[voxtwilio:error\]", r"\[dbd:crit\]", "exit signal",
                                     "AddressSanitizer"]) == [crash, asan]
