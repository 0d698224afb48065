"""voxtwilio-admin keys rotate: every credential is re-encrypted under a new active key,
Apache picks the new key file up on a graceful restart, and unknown keys are reported."""
import os
import shutil
import stat

import pyvt
from pyvt import checks
from test_admin import decrypt_token
from test_inbound import INBOUND


def integ(pg, company_id):
    return pg.psql("SELECT key_id, encode(auth_token_enc, 'hex') FROM client_integrations "
                   "WHERE company_id = %d" % company_id)[0]


def test_keys_rotate_reencrypts_and_apache_follows(tenant, admin, pg, workdir, key_file,
                                                   apache_factory, client_for, capture):
    # A copy of the session key file, so the session's Apache keeps its own keys.
    kf = os.path.join(workdir, "rotate.keys")
    shutil.copyfile(key_file, kf)
    os.chmod(kf, 0o600)
    t = tenant()
    ap = apache_factory(key_file=kf)
    c = client_for(ap)
    checks.greeting(c.post_signed(INBOUND, t.params(), t.token), t)
    old_kid, old_blob = integ(pg, t.company_id)
    old_keys = pyvt.read_key_file(kf)

    r = admin("keys", "rotate", key_file=kf)
    assert r.rc == 0, r
    keys = pyvt.read_key_file(kf)
    for kid, key in keys:
        capture.add_secret("rotated key %s" % kid, key.hex())
    assert len(keys) == len(old_keys) + 1, keys
    assert keys[1:] == old_keys, "the old keys must stay, after the new active one"
    new_kid = keys[0][0]
    assert new_kid != old_kid
    assert stat.S_IMODE(os.stat(kf).st_mode) == 0o600
    assert new_kid not in [k for k, _ in old_keys]

    kid, blob = integ(pg, t.company_id)
    assert kid == new_kid and blob != old_blob
    assert pg.scalar("SELECT count(*) FROM client_integrations WHERE key_id <> '%s'"
                     % new_kid) == "0", "some credentials were not re-encrypted"
    assert decrypt_token(pg, kf, t.company_id) == (new_kid, t.token)

    ap.graceful()
    checks.greeting(c.post_signed(INBOUND, t.params(), t.token), t)
    r = admin("integration", "test", t.slug, key_file=kf)
    assert r.rc == 0 and "OK" in r.out, r

    # A key file that lacks the key now in use: rotate reports it, nothing is lost.
    stranger = pyvt.make_key_file(os.path.join(workdir, "stranger.keys"), key_id="kstranger")
    before = pg.psql("SELECT id, key_id, encode(auth_token_enc, 'hex') FROM "
                     "client_integrations ORDER BY id")
    r = admin("keys", "rotate", key_file=stranger)
    assert new_kid in r.out + r.err, "unreadable credentials not reported: %r" % (r,)
    after = pg.psql("SELECT id, key_id, encode(auth_token_enc, 'hex') FROM "
                    "client_integrations ORDER BY id")
    assert before == after, "credentials under an unknown key were changed"
    for kid_, key in pyvt.read_key_file(stranger):
        capture.add_secret("stranger key %s" % kid_, key.hex())
