"""voxtwilio-admin: migrations, keys, companies, integrations, and refusing bad input
with a one-line error, a non-zero exit and an unchanged database."""
import os
import re
import stat

import pytest

import pyvt
from pyvt.twilio import random_hex

TABLES = {"companies", "client_integrations", "integration_numbers", "customers", "calls",
          "call_events", "call_turns", "messages", "jobs", "schema_version"}


def one_line_error(r):
    assert r.rc != 0, "expected failure: %r" % (r,)
    assert len(r.lines) == 1, "want exactly one line of error output: %r" % (r,)
    assert len(r.lines[0]) < 400, r


def unchanged(pg, before):
    after = pg.snapshot()
    for table in sorted(set(before) | set(after)):
        assert before.get(table) == after.get(table), "table %s changed:\nbefore %s\nafter %s" % (
            table, before.get(table), after.get(table))


def company(admin, slug=None, **opts):
    slug = slug or "c-" + random_hex(8)
    args = ["company", "add", slug, "--name", opts.pop("name", "Company " + slug)]
    for k, v in opts.items():
        args += ["--" + k.replace("_", "-"), v]
    r = admin(*args)
    assert r.rc == 0, r
    return slug


# ---------------------------------------------------------------- migrate
def test_migrate_creates_every_table(pg, migrated):
    assert TABLES <= set(pg.tables()), pg.tables()
    assert int(pg.scalar("SELECT count(*) FROM schema_version")) >= 1


def test_migrate_is_idempotent(admin, pg, migrated):
    before = pg.snapshot()
    for _ in range(2):
        r = admin("migrate")
        assert r.rc == 0, r
    unchanged(pg, before)


def test_migrate_on_unreachable_database_fails_cleanly(admin, pg):
    r = admin("migrate", db="host=127.0.0.1 port=9 dbname=x user=x connect_timeout=2")
    assert r.rc != 0, r
    assert r.lines, r


# ---------------------------------------------------------------- keys
def test_keys_generate_mode_and_format(admin, workdir):
    path = os.path.join(workdir, "gen-%s.keys" % random_hex(6))
    r = admin("keys", "generate", path, key_file=None)
    assert r.rc == 0, r
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    lines = [l for l in open(path).read().splitlines() if l and not l.startswith("#")]
    assert len(lines) == 1
    assert re.fullmatch(r"[A-Za-z0-9_.-]{1,32}:[0-9a-fA-F]{64}", lines[0]), lines[0]
    key_hex = lines[0].split(":", 1)[1]
    assert key_hex.lower() not in (r.out + r.err).lower(), "keys generate printed the key"


def test_keys_generate_refuses_to_overwrite(admin, workdir):
    path = os.path.join(workdir, "gen-%s.keys" % random_hex(6))
    assert admin("keys", "generate", path, key_file=None).rc == 0
    content = open(path).read()
    r = admin("keys", "generate", path, key_file=None)
    one_line_error(r)
    assert open(path).read() == content


# ---------------------------------------------------------------- companies
def test_company_add_list_enable_disable(admin, pg, migrated):
    slug = "acme-" + random_hex(6)
    r = admin("company", "add", slug, "--name", "Acme Dental", "--greeting", "Hello from Acme",
              "--voice", "Polly.Matthew", "--language", "en-GB",
              "--escalation-phone", "+14155550100", "--notification-phone", "+14155550101")
    assert r.rc == 0, r
    row = pg.psql("SELECT name, greeting, voice, language, escalation_phone, notification_phone, "
                  "enabled FROM companies WHERE slug = '%s'" % slug)
    assert row == [("Acme Dental", "Hello from Acme", "Polly.Matthew", "en-GB", "+14155550100",
                    "+14155550101", "t")]
    r = admin("company", "list")
    assert r.rc == 0, r
    line = [l for l in r.out.splitlines() if slug in l]
    assert line and "Acme Dental" in r.out, r
    r = admin("company", "disable", slug)
    assert r.rc == 0, r
    assert pg.scalar("SELECT enabled FROM companies WHERE slug = '%s'" % slug) == "f"
    r = admin("company", "list")
    assert slug in r.out, r
    r = admin("company", "enable", slug)
    assert r.rc == 0, r
    assert pg.scalar("SELECT enabled FROM companies WHERE slug = '%s'" % slug) == "t"


def test_company_defaults(admin, pg, migrated):
    slug = company(admin)
    row = pg.psql("SELECT greeting, voice, language, enabled FROM companies WHERE slug = '%s'"
                  % slug)[0]
    assert row[0] and row[1] and row[2] and row[3] == "t"


# ---------------------------------------------------------------- integrations
def decrypt_token(pg, key_file, company_id):
    """Opens the stored credential independently of the C code (python3-cryptography)."""
    aesgcm = pytest.importorskip("cryptography.hazmat.primitives.ciphers.aead")
    kid, blob_hex = pg.psql("SELECT key_id, encode(auth_token_enc, 'hex') FROM "
                            "client_integrations WHERE company_id = %d" % company_id)[0]
    keys = dict(pyvt.read_key_file(key_file))
    blob = bytes.fromhex(blob_hex)
    nonce, ct = blob[:12], blob[12:]
    return kid, aesgcm.AESGCM(keys[kid]).decrypt(nonce, ct, str(company_id).encode()).decode()


def test_integration_add_encrypts_the_token(tenant, pg, key_file):
    t = tenant(numbers=2)
    kid, plain = decrypt_token(pg, key_file, t.company_id)
    assert plain == t.token
    assert kid == pyvt.read_key_file(key_file)[0][0], "not sealed under the active key"
    row = pg.psql("SELECT provider, mode, account_sid, enabled FROM client_integrations "
                  "WHERE company_id = %d" % t.company_id)
    assert row == [("TWILIO", "OWN", t.account_sid, "t")]
    nums = pg.psql("SELECT n.number FROM integration_numbers n JOIN client_integrations i "
                   "ON i.id = n.integration_id WHERE i.company_id = %d ORDER BY 1"
                   % t.company_id)
    assert [n[0] for n in nums] == sorted(t.numbers)
    blob = pg.scalar("SELECT encode(auth_token_enc, 'escape') FROM client_integrations "
                     "WHERE company_id = %d" % t.company_id)
    assert t.token not in blob


def test_integration_add_nonces_are_fresh(tenant, pg):
    a = tenant(token="0123456789abcdef0123456789abcdef")
    b = tenant(token="0123456789abcdef0123456789abcdef")
    blobs = pg.psql("SELECT substr(encode(auth_token_enc, 'hex'), 1, 24) FROM "
                    "client_integrations WHERE company_id IN (%d, %d)"
                    % (a.company_id, b.company_id))
    assert len({b_[0] for b_ in blobs}) == 2


def test_integration_add_from_token_file_and_platform_mode(admin, pg, workdir, capture, key_file):
    slug = company(admin)
    token = pyvt.new_auth_token()
    capture.add_secret("token file token", token)
    path = os.path.join(workdir, "token-%s" % slug)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    sid = pyvt.new_account_sid()
    r = admin("integration", "add", slug, "--account-sid", sid, "--number", pyvt.new_number(),
              "--mode", "platform", "--auth-token-file", path)
    assert r.rc == 0, r
    cid = int(pg.scalar("SELECT id FROM companies WHERE slug = '%s'" % slug))
    assert pg.scalar("SELECT mode FROM client_integrations WHERE company_id = %d" % cid) \
        == "PLATFORM"
    assert decrypt_token(pg, key_file, cid)[1] == token


def test_integration_list_never_prints_the_token(tenant, admin):
    t = tenant()
    r = admin("integration", "list")
    assert r.rc == 0, r
    assert t.slug in r.out and t.account_sid in r.out, r
    assert t.token not in r.out + r.err


def test_integration_test_ok(tenant, admin, standin):
    t = tenant()
    standin.clear()
    r = admin("integration", "test", t.slug)
    assert r.rc == 0, r
    assert "OK" in r.out, r
    reqs = standin.requests_for("/2010-04-01/Accounts/%s.json" % t.account_sid)
    assert len(reqs) == 1 and reqs[0].method == "GET"
    assert reqs[0].auth_user == t.account_sid and reqs[0].auth_password == t.token
    assert t.token not in r.out + r.err


def test_integration_test_wrong_token(tenant, admin):
    t = tenant(standin_token=pyvt.new_auth_token())
    r = admin("integration", "test", t.slug)
    assert r.rc != 0, r
    assert "FAILED" in r.out + r.err and "20003" in r.out + r.err, r
    assert t.token not in r.out + r.err


def test_integration_test_unreachable_api(tenant, admin):
    t = tenant()
    r = admin("integration", "test", t.slug, api_base="http://127.0.0.1:9")
    assert r.rc != 0, r
    assert "FAILED" in r.out + r.err, r


# ---------------------------------------------------------------- bad input
@pytest.fixture
def bare_company(admin, migrated):
    """A company without an integration yet, plus a number owned by someone else."""
    return company(admin)


def _integration_add(admin, slug, sid=None, numbers=None, token=None, **kw):
    args = ["integration", "add", slug, "--account-sid", sid or pyvt.new_account_sid()]
    for n in numbers or [pyvt.new_number()]:
        args += ["--number", n]
    return admin(*args, input=(pyvt.new_auth_token() if token is None else token) + "\n", **kw)


BAD_CASES = {
    "unknown slug (company enable)": lambda a, s, t: a("company", "enable", "no-such-" + s),
    "unknown slug (company disable)": lambda a, s, t: a("company", "disable", "no-such-" + s),
    "unknown slug (integration add)": lambda a, s, t: _integration_add(a, "no-such-" + s),
    "unknown slug (integration test)": lambda a, s, t: a("integration", "test", "no-such-" + s),
    "bad slug": lambda a, s, t: a("company", "add", "Bad_Slug!", "--name", "X"),
    "duplicate slug": lambda a, s, t: a("company", "add", s, "--name", "Again"),
    "missing name": lambda a, s, t: a("company", "add", "n-" + s),
    "malformed escalation phone": lambda a, s, t: a("company", "add", "e-" + s, "--name", "E",
                                                    "--escalation-phone", "4155550100"),
    "malformed notification phone": lambda a, s, t: a("company", "add", "f-" + s, "--name",
                                                      "F", "--notification-phone", "+0155"),
    "number without +": lambda a, s, t: _integration_add(a, s, numbers=["14155550100"]),
    "number with leading 0": lambda a, s, t: _integration_add(a, s, numbers=["+0155512345"]),
    "number too long": lambda a, s, t: _integration_add(a, s, numbers=["+1415555010012345"]),
    "number with letters": lambda a, s, t: _integration_add(a, s, numbers=["+1415CALLNOW"]),
    "one bad number among good": lambda a, s, t: _integration_add(
        a, s, numbers=[pyvt.new_number(), "+1-415-555"]),
    "duplicate number": lambda a, s, t: _integration_add(a, s, numbers=[t.number]),
    "bad account sid": lambda a, s, t: _integration_add(a, s, sid="AC123"),
    "account sid with wrong prefix": lambda a, s, t: _integration_add(a, s, sid="PN" + "0" * 32),
    "empty token": lambda a, s, t: _integration_add(a, s, token=""),
    "bad mode": lambda a, s, t: a("integration", "add", s, "--account-sid",
                                  pyvt.new_account_sid(), "--number", pyvt.new_number(),
                                  "--mode", "shared", input=pyvt.new_auth_token() + "\n"),
    "missing key file": lambda a, s, t: _integration_add(a, s, key_file="/nonexistent/vt.keys"),
    "unknown verb": lambda a, s, t: a("frobnicate"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_one_line_error_database_unchanged(case, admin, pg, bare_company, tenant):
    other = tenant()
    before = pg.snapshot()
    r = BAD_CASES[case](admin, bare_company, other)
    one_line_error(r)
    unchanged(pg, before)


def test_wrong_key_file(admin, pg, tenant, workdir):
    t = tenant()
    wrong = pyvt.make_key_file(os.path.join(workdir, "wrong-%s.keys" % random_hex(6)),
                               key_id=pyvt.read_key_file(admin.key_file)[0][0])
    before = pg.snapshot()
    r = admin("integration", "test", t.slug, key_file=wrong)
    one_line_error(r)
    assert "OK" not in r.out
    unchanged(pg, before)


def test_key_file_without_the_key_id(admin, pg, tenant, workdir):
    t = tenant()
    other = pyvt.make_key_file(os.path.join(workdir, "other-%s.keys" % random_hex(6)),
                               key_id="kother")
    before = pg.snapshot()
    r = admin("integration", "test", t.slug, key_file=other)
    one_line_error(r)
    unchanged(pg, before)


def test_group_readable_key_file_is_refused(admin, pg, bare_company, workdir):
    kf = pyvt.make_key_file(os.path.join(workdir, "grp-%s.keys" % random_hex(6)), mode=0o640)
    before = pg.snapshot()
    r = _integration_add(admin, bare_company, key_file=kf)
    one_line_error(r)
    unchanged(pg, before)


def test_token_is_never_taken_from_argv(admin, pg, bare_company):
    """There is no option that takes the token itself on the command line."""
    before = pg.snapshot()
    token = pyvt.new_auth_token()
    r = admin("integration", "add", bare_company, "--account-sid", pyvt.new_account_sid(),
              "--number", pyvt.new_number(), "--auth-token", token, input="")
    assert r.rc != 0, r
    unchanged(pg, before)
