"""mod_status shows the gateway's counters (shared by all Apache children), the calls in
progress and the job backlog; %{VT-CallSid}n gives LogFormat the CallSid."""
import re

from pyvt import checks

from test_inbound import INBOUND


def status(client):
    r = client.get("/server-status?auto")
    assert r.status_code == 200, r.text
    return dict(re.findall(r"^(VoxTwilio\w+): (-?\d+)$", r.text, re.M))


def test_status_counts_webhooks_and_signature_failures(tenant, client):
    t = tenant()
    before = status(client)
    assert set(before) >= {"VoxTwilioWebhooks", "VoxTwilioSignatureFailures",
                           "VoxTwilioDBUnavailable", "VoxTwilioCallsInProgress",
                           "VoxTwilioJobBacklog", "VoxTwilioJobsFailed", "VoxTwilioHelperPid",
                           "VoxTwilioHelperRestarts"}
    for _ in range(3):
        checks.greeting(client.post_signed(INBOUND, t.params(), t.token), t)
    assert client.post_signed(INBOUND, t.params(), "wrong-token").status_code == 403
    after = status(client)
    assert int(after["VoxTwilioWebhooks"]) - int(before["VoxTwilioWebhooks"]) == 4
    assert int(after["VoxTwilioSignatureFailures"]) - \
        int(before["VoxTwilioSignatureFailures"]) == 1
    assert int(after["VoxTwilioCallsInProgress"]) >= 3
    assert int(after["VoxTwilioJobBacklog"]) >= 0


def test_html_status_has_a_voxtwilio_section(client):
    r = client.get("/server-status")
    assert r.status_code == 200
    assert "<h2>mod_voxtwilio</h2>" in r.text and "Job backlog" in r.text


def test_logformat_gets_the_callsid(tenant, apache_factory, client_for):
    a = apache_factory(vhost_extra='CustomLog "logs/callsid_log" "%{VT-CallSid}n %>s"')
    t = tenant()
    p = t.params()
    sid = dict(p)["CallSid"]
    checks.greeting(client_for(a).post_signed(INBOUND, p, t.token), t)
    a.stop()
    with open(a.root + "/logs/callsid_log") as f:
        assert "%s 200\n" % sid in f.read()
