"""The helper's direct stream listener (VoxTwilioStreamDirect): <Stream url> names the load
balancer's wss:// origin, Twilio's socket reaches the helper's TCP port without Apache's
tunnel, and the helper checks the signature against that origin and the request's path
(never a header a client could forge)."""
import asyncio
import os
import tempfile

import pytest

from pyvt import free_port, param
from pyvt.media_stream import TwilioStream
from pyvt.twiml import parse_twiml

from test_inbound import INBOUND
from test_stream import stream_tenant, realtime, turns, outcome  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("migrated")

PUBLIC = "wss://media.example.test"


@pytest.fixture(scope="module")
def direct_port():
    return free_port()


@pytest.fixture(scope="module")
def direct_apache(request, paths, pg, key_file, standin, migrated, capture, direct_port):
    from pyvt import Apache
    root = tempfile.mkdtemp(prefix="httpd-direct-", dir=request.config._vt_workdir)
    a = Apache(paths, pg.conninfo, key_file, api_base=standin.base_url, root=root,
               capture=capture, stream_socket="voxtwilio/stream.sock",
               helper=os.path.join(paths.builddir, "voxtwilio-helper"),
               server_extra="VoxTwilioStreamDirect %s 127.0.0.1:%d" % (PUBLIC, direct_port))
    a.start()
    a.wait_for_helper()
    yield a
    a.stop()


def test_a_call_through_the_direct_listener(direct_apache, direct_port, client_for,
                                            stream_tenant, pg):
    t = stream_tenant()
    p = t.params()
    sid = param(p, "CallSid")
    r = client_for(direct_apache).post_signed(INBOUND, p, t.token)
    url = parse_twiml(r.text).find("Connect/Stream").get("url")
    assert url == "%s/stream/%s/%s" % (PUBLIC, t.slug, sid)
    s = TwilioStream(direct_apache, url, t, sid, params={"From": param(p, "From")},
                     connect_url="ws://127.0.0.1:%d/stream/%s/%s" % (direct_port, t.slug, sid))
    s.start()
    assert s.status == 101
    s.wait_for(lambda s: any(n.endswith(":end") for _, n in s.marks_echoed), 20,
               "the greeting and menu played")
    assert s.heard_anything()
    s.dtmf("0")
    assert s.wait_closed(20)
    assert s.close_code == 1000 and s.errors == []
    assert [r[1:3] for r in turns(pg, sid)][-2:] == [
        ("caller", "[key 0]"), ("assistant", "Let me connect you with a member of our team.")]
    assert outcome(pg, sid) == "transfer"
    # Apache's own path to the helper still works alongside
    assert "streams: listening directly on 127.0.0.1:%d" % direct_port in \
        direct_apache.read_log()


@pytest.mark.expect_log(r"refused: signature does not match")
def test_the_direct_listener_ignores_the_url_header(direct_apache, direct_port, client_for,
                                                    stream_tenant):
    """A client on the direct port that signs the Apache URL (valid there) for a live call
    and claims it in X-VoxTwilio-Stream-URL is checked against the public origin instead:
    a policy close."""
    import websockets
    t = stream_tenant()
    p = t.params()
    sid = param(p, "CallSid")
    assert client_for(direct_apache).post_signed(INBOUND, p, t.token).status_code == 200
    path = "/voice/stream/%s/%s" % (t.slug, sid)
    apache_url = "wss://127.0.0.1:%d%s" % (direct_apache.port, path)
    from pyvt.twilio import TwilioSigner
    headers = [("X-VoxTwilio-Stream-URL", apache_url),
               ("X-Twilio-Signature", TwilioSigner.sign(t.token, apache_url))]

    async def go():
        async with websockets.connect("ws://127.0.0.1:%d%s" % (direct_port, path),
                                      extra_headers=headers, open_timeout=5) as ws:
            try:
                await ws.send('{"event":"connected"}')
                await ws.send('{"event":"start","start":{"callSid":"%s","accountSid":"%s",'
                              '"streamSid":"MZ%s"}}' % (sid, t.account_sid, "0" * 32))
                await asyncio.wait_for(ws.recv(), 5)
            except websockets.exceptions.ConnectionClosed as e:
                return e.code
            return "a message"

    mark = direct_apache.log_size()
    assert asyncio.run(go()) == 1008
    assert "refused: signature does not match" in direct_apache.read_log(mark)


@pytest.mark.parametrize("args, what", [
    ("https://media.example.test 8443", "wss://"),
    ("wss://media.example.test/voice 8443", "without a path"),
    ("wss://media.example.test 443", "1024 to 65535"),
    ("wss://media.example.test localhost", "1024 to 65535"),
])
def test_a_wrong_direct_listener_fails_the_config_test(direct_apache, args, what):
    rc, out = direct_apache.config_test(server_extra="VoxTwilioStreamDirect " + args)
    assert rc != 0
    assert "VoxTwilioStreamDirect" in out and what in out


def test_the_direct_listener_needs_the_stream_socket(direct_apache):
    rc, out = direct_apache.config_test(
        server_extra="VoxTwilioStreamSocket Off\nVoxTwilioStreamDirect %s 9443" % PUBLIC)
    assert rc != 0
    assert "VoxTwilioStreamDirect needs stream mode" in out
