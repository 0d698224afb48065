"""VoxTwilioSignature Off: unsigned requests are accepted, and startup warns about it."""
import re

from pyvt import checks
from test_inbound import INBOUND


def test_signature_off_accepts_unsigned_and_warns(tenant, apache_factory, client_for):
    t = tenant()
    ap = apache_factory(vhost_extra="    VoxTwilioSignature Off")
    startup = ap.read_log() + (ap.last_start.stdout + ap.last_start.stderr)
    warn = [l for l in startup.splitlines()
            if "VoxTwilioSignature" in l and re.search(r"\[[a-z_]+:warn\]", l)]
    assert warn, "no startup warning naming VoxTwilioSignature in:\n" + startup[-3000:]
    c = client_for(ap)
    checks.greeting(c.post_signed(INBOUND, t.params(), t.token, sign=False), t)


def test_signature_on_is_the_default(tenant, client):
    t = tenant()
    checks.forbidden(client.post_signed(INBOUND, t.params(), t.token, sign=False), t)


def test_signature_on_explicit(tenant, apache_factory, client_for):
    t = tenant()
    ap = apache_factory(vhost_extra="    VoxTwilioSignature On")
    c = client_for(ap)
    checks.forbidden(c.post_signed(INBOUND, t.params(), t.token, sign=False), t)
    checks.greeting(c.post_signed(INBOUND, t.params(), t.token), t)
    assert "VoxTwilioSignature" not in ap.read_log()
