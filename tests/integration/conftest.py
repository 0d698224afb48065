"""Fixtures of the mod_voxtwilio integration suite.

Session: one throwaway PostgreSQL, a key file made by `voxtwilio-admin keys generate`, the
Twilio REST stand-in, one Apache with the default config. Per test: a tenant factory
(company + integration through the real admin tool), a factory for separately configured
Apaches, and an error-log check that fails a test on crashes or undeclared errors.
"""
import itertools
import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyvt  # noqa: E402
from pyvt.twilio import random_hex  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "expect_log(*regexes): error-log lines this test expects (not failures)")


# ---------------------------------------------------------------- session basics
@pytest.fixture(scope="session")
def paths():
    return pyvt.Paths()


@pytest.fixture(scope="session")
def capture():
    return pyvt.Capture()


@pytest.fixture(scope="session")
def workdir(request):
    d = tempfile.mkdtemp(prefix="vt-it-")
    os.chmod(d, 0o755)
    request.config._vt_workdir = d
    yield d
    failed = request.session.testsfailed
    if failed or os.environ.get("VT_KEEP"):
        request.config._vt_kept = d
    else:
        shutil.rmtree(d, ignore_errors=True)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    kept = getattr(config, "_vt_kept", None)
    if kept:
        terminalreporter.write_line("integration state kept in %s (logs under httpd-*/logs, "
                                    "pg/postgresql.log)" % kept)


@pytest.fixture(scope="session")
def pg(workdir, capture):
    cluster = pyvt.PgCluster(base_dir=os.path.join(workdir, "pg"))
    cluster.start()
    capture.add_log_file(cluster.logfile)
    yield cluster
    try:
        cluster.stop(mode="immediate")
    except Exception:
        pass


@pytest.fixture(scope="session")
def standin():
    s = pyvt.TwilioAPIStandIn().start()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def key_file(paths, workdir, capture):
    """The server key file, made by the real tool (`keys generate FILE`)."""
    path = os.path.join(workdir, "voxtwilio.keys")
    admin = pyvt.Admin(paths.admin_bin, capture=capture)
    r = admin.run("keys", "generate", path, db=None, key_file=None, api_base=None)
    if r.rc != 0 or not os.path.exists(path):
        pytest.fail("voxtwilio-admin keys generate failed: %r" % (r,), pytrace=False)
    for kid, key in pyvt.read_key_file(path):
        capture.add_secret("key %s" % kid, key.hex())
    return path


@pytest.fixture(scope="session")
def admin(paths, pg, key_file, standin, capture):
    return pyvt.Admin(paths.admin_bin, pg.conninfo, key_file, standin.base_url, capture)


@pytest.fixture(scope="session")
def migrated(admin):
    r = admin("migrate")
    if r.rc != 0:
        pytest.fail("voxtwilio-admin migrate failed: %r" % (r,), pytrace=False)
    return True


@pytest.fixture(scope="session")
def apache(paths, pg, key_file, standin, migrated, workdir, capture):
    """The session's Apache with the default configuration."""
    a = pyvt.Apache(paths, pg.conninfo, key_file, api_base=standin.base_url,
                    root=os.path.join(workdir, "httpd-main"), capture=capture)
    a.start()
    yield a
    a.stop()


@pytest.fixture
def apache_factory(paths, pg, key_file, standin, migrated, workdir, capture):
    """make(start=True, vhost_extra=..., server_extra=..., location_extra=..., ...) -> Apache;
    every instance is stopped when the test ends."""
    made = []

    def make(start=True, **kw):
        kw.setdefault("api_base", standin.base_url)
        kf = kw.pop("key_file", key_file)
        a = pyvt.Apache(paths, pg.conninfo, kf, root=tempfile.mkdtemp(prefix="httpd-", dir=workdir),
                        capture=capture, **kw)
        made.append(a)
        if start:
            a.start()
        return a

    yield make
    for a in made:
        a.stop()


@pytest.fixture
def config_apache(paths, workdir, capture):
    """An Apache that is only ever config-tested (apache2 -t): no database, no admin tool;
    its key file is written directly in the documented format."""
    root = tempfile.mkdtemp(prefix="httpd-t-", dir=workdir)
    kf = pyvt.make_key_file(os.path.join(root, "voxtwilio.keys"))
    return pyvt.Apache(paths, "host=127.0.0.1 port=9 dbname=voxtwilio user=voxtwilio "
                       "connect_timeout=1", kf, api_base="http://127.0.0.1:9", root=root,
                       capture=capture)


@pytest.fixture
def client(apache, capture):
    return pyvt.WebhookClient(apache.base_url(), capture)


@pytest.fixture
def client_for(capture):
    def make(a):
        return pyvt.WebhookClient(a.base_url(), capture)
    return make


# ---------------------------------------------------------------- tenants
_counter = itertools.count(1)


class Tenant:
    def __init__(self, **kw):
        self.__dict__.update(kw)

    @property
    def number(self):
        return self.numbers[0]

    def params(self, from_="+14155550100", to=None, call_sid=None, account_sid=None, **kw):
        return pyvt.voice_params(account_sid or self.account_sid, from_, to or self.number,
                                 call_sid=call_sid, **kw)

    def message(self, body, from_="+14155550100", to=None, **kw):
        """An inbound SMS (whatsapp=True: WhatsApp) to this tenant's number."""
        return pyvt.message_params(self.account_sid, from_, to or self.number, body, **kw)

    def __repr__(self):
        return "<Tenant %s id=%s %s>" % (self.slug, self.company_id, self.numbers)


@pytest.fixture
def tenant(admin, pg, standin, capture):
    """make(greeting=..., voice=..., language=..., numbers=1, standin_token=None, ...) creates
    a company and its Twilio integration with the real voxtwilio-admin (token on stdin)."""

    def make(greeting=None, voice="Polly.Joanna", language="en-US", numbers=1, name=None,
             slug=None, account_sid=None, token=None, standin_token=None, extra_company=(),
             extra_integration=()):
        n = next(_counter)
        slug = slug or "t%d-%s" % (n, random_hex(6))
        name = name or "Tenant %d %s" % (n, slug)
        greeting = greeting or "Thank you for calling %s. How can I help you today?" % name
        account_sid = account_sid or pyvt.new_account_sid()
        token = token or pyvt.new_auth_token()
        nums = [pyvt.new_number() for _ in range(numbers)]
        capture.add_secret("auth token of %s" % slug, token)
        args = ["company", "add", slug, "--name", name, "--greeting", greeting]
        if voice:
            args += ["--voice", voice]
        if language:
            args += ["--language", language]
        r = admin(*(args + list(extra_company)))
        assert r.rc == 0, "company add failed: %r" % (r,)
        args = ["integration", "add", slug, "--account-sid", account_sid]
        for num in nums:
            args += ["--number", num]
        r = admin(*(args + list(extra_integration)), input=token + "\n")
        assert r.rc == 0, "integration add failed: %r" % (r,)
        company_id = pg.scalar("SELECT id FROM companies WHERE slug = '%s'" % slug)
        assert company_id, "company %s not in the database" % slug
        standin.add_account(account_sid, standin_token or token, name)
        return Tenant(slug=slug, name=name, greeting=greeting, voice=voice, language=language,
                      account_sid=account_sid, token=token, numbers=nums,
                      company_id=int(company_id))

    return make


def call_rows(pg, call_sid):
    return pg.psql("SELECT company_id, from_number, to_number, direction FROM calls "
                   "WHERE call_sid = '%s'" % call_sid)


# ---------------------------------------------------------------- error-log check
class _Expected(list):
    def __call__(self, *patterns):
        self.extend(patterns)


@pytest.fixture
def expect_log(request):
    """expect_log(r'regex', ...) declares error-log lines this test produces on purpose
    (same as @pytest.mark.expect_log)."""
    e = _Expected()
    for m in request.node.iter_markers("expect_log"):
        e.extend(m.args)
    return e


@pytest.fixture(autouse=True)
def _error_log_check(expect_log, capture):
    def logs():
        return [p for p in list(capture.log_files) if os.path.basename(p) == "error_log"]

    start = {}
    for p in logs():
        try:
            start[p] = os.path.getsize(p)
        except OSError:
            start[p] = 0
    yield
    problems = []
    for p in logs():
        try:
            with open(p, "rb") as f:
                f.seek(start.get(p, 0))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        for line in pyvt.scan_log_text(text, expect_log):
            problems.append("%s: %s" % (p, line))
    if problems:
        pytest.fail("unexpected lines in the Apache error log:\n" + "\n".join(problems[:40]),
                    pytrace=False)
