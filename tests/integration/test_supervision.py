"""httpd supervises voxtwilio-helper (VoxTwilioHelper, VoxTwilioHelperDB): started from
post_config as httpd's User after loading the key file as root, restarted within 1 s after
kill -9 with no job lost, not respawned after exit status 254, kept across graceful
restarts (also under prefork and worker), stopped with httpd, and gone by itself when httpd
is SIGKILLed.

The helpers here use a database of their own (jobs of other tests are none of their
business); tenants and jobs are made there with the real admin tool.
"""
import os
import pwd
import re
import shutil
import signal
import stat
import time

import pytest

import pyvt
from pyvt.twilio import random_hex
from pyvt.util import is_root, pid_alive, wait_until
from test_helper_jobs import HelperDB, lit

STARTED = re.compile(r"VT1040[23]: voxtwilio-helper (?:started|restarted), pid (\d+)")
HELPER_254 = [r"\[voxtwilio:crit\].*VT10406", r"\[voxtwilio-helper:error\].*configuration error"]


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def sdb(pg, paths, key_file, standin, capture):
    name = "vt_sup_" + random_hex(8)
    su = "host=127.0.0.1 port=%d dbname=postgres user=postgres connect_timeout=5" % pg.port
    pg.psql("CREATE DATABASE %s OWNER %s" % (name, pg.user), conninfo=su)
    db = HelperDB(pg, name)
    db.admin = pyvt.Admin(paths.admin_bin, db.conninfo, key_file, standin.base_url, capture)
    r = db.admin("migrate")
    assert r.rc == 0, r
    return db


@pytest.fixture
def helper_bin(paths):
    return os.path.join(paths.builddir, "voxtwilio-helper")


@pytest.fixture
def supervised(apache_factory, helper_bin, sdb):
    """An Apache that starts the helper: make(extra=server directives, db=..., helper=...)."""

    def make(extra="", db=None, helper=None, start=True, **kw):
        lines = ['VoxTwilioHelper "%s"' % (helper or helper_bin),
                 'VoxTwilioHelperDB "%s"' % (db or sdb.conninfo)]
        if extra:
            lines.append(extra)
        ap = apache_factory(server_extra="\n".join(lines), start=start, **kw)
        if start:
            settle(ap)
        return ap

    return make


@pytest.fixture
def stenant(sdb, standin, capture):
    """A company with a Twilio integration in the helpers' database."""

    def make():
        slug = "s-" + random_hex(8)
        sid, token = pyvt.new_account_sid(), pyvt.new_auth_token()
        number = pyvt.new_number()
        capture.add_secret("auth token of %s" % slug, token)
        r = sdb.admin("company", "add", slug, "--name", "Supervision " + slug)
        assert r.rc == 0, r
        r = sdb.admin("integration", "add", slug, "--account-sid", sid, "--number", number,
                      input=token + "\n")
        assert r.rc == 0, r
        standin.add_account(sid, token)
        cid = int(sdb.scalar("SELECT id FROM companies WHERE slug = %s" % lit(slug)))
        return dict(slug=slug, account_sid=sid, token=token, number=number, company_id=cid)

    return make


# ---------------------------------------------------------------- helpers
def settle(ap):
    """Apache.start() returns once the port answers, which is before the parent logs
    "resuming normal operations"; a graceful() right then would take that line for its own
    and return before its restart even began, so the next signal would hit httpd in the
    middle of re-reading its configuration."""
    wait_until(lambda: "resuming normal operations" in ap.read_log(), 10,
               what="httpd to finish starting")


def helper_pids(ap):
    """Every helper pid httpd reported starting, in order."""
    return [int(m) for m in STARTED.findall(ap.read_log())]


def wait_helper(ap, count=1, timeout=10):
    """The pid of the count-th helper start (waits for it)."""
    wait_until(lambda: len(helper_pids(ap)) >= count, timeout,
               what="helper start #%d in %s:\n%s" % (count, ap.error_log, ap.read_log()[-3000:]))
    pid = helper_pids(ap)[count - 1]
    return pid


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


def cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return [a.decode() for a in f.read().split(b"\0") if a]


def helper_cmdline(pid):
    """The helper's argv, once the fork has exec'd it (httpd logs the pid in between).
    In the middle of execve the kernel shows an empty cmdline (the new mm has no
    arguments yet): that is "not yet", like httpd's own argv before it."""
    wait_until(lambda: (cmdline(pid) or [""])[0].endswith("voxtwilio-helper"), 5,
               interval=0.01,
               what="pid %d to exec voxtwilio-helper" % pid)
    return cmdline(pid)


def listening_inodes(port):
    """Socket inodes of the TCP listeners on 127.0.0.1:port."""
    inodes = set()
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        f = line.split()
        if f[3] == "0A" and int(f[1].split(":")[1], 16) == port:
            inodes.add(f[9])
    return inodes


def socket_inodes(pid):
    out = set()
    d = "/proc/%d/fd" % pid
    for fd in os.listdir(d):
        try:
            t = os.readlink(os.path.join(d, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", t)
        if m:
            out.add(m.group(1))
    return out


def running_helpers(ap):
    """Live helper processes supervised by this httpd (by their --parent-pid)."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            argv = cmdline(int(p))
        except OSError:
            continue
        if argv and argv[0].endswith("voxtwilio-helper") and "--parent-pid" in argv \
                and argv[argv.index("--parent-pid") + 1] == str(ap.pid()) and pid_alive(int(p)):
            out.append(int(p))
    return out


def sms_job(db, tenant, body):
    return db.insert("sms_alert", tenant["company_id"], {"to": "+14155550123", "body": body})


def delivered(standin, tenant):
    """Bodies of the SMS the stand-in accepted for this tenant."""
    return [m["body"] for m in list(standin.messages) if m["account_sid"] == tenant["account_sid"]]


# ---------------------------------------------------------------- tests
def test_helper_started_with_httpd(supervised, sdb):
    ap = supervised()
    pid = wait_helper(ap)
    assert pid_alive(pid)
    argv = helper_cmdline(pid)
    wait_until(lambda: "listening on voxtwilio_jobs" in ap.read_log(), 10, what="helper ready")
    st = proc_status(pid)
    assert argv[0].endswith("voxtwilio-helper"), argv
    assert int(st["PPid"][0]) == ap.pid(), "the helper is not httpd's child"
    assert argv[argv.index("--parent-pid") + 1] == str(ap.pid())
    # the database string (it may hold a password) is not on the command line
    assert "--db" not in argv and "dbname=" not in " ".join(argv)
    with open("/proc/%d/environ" % pid, "rb") as f:
        assert b"VOXTWILIO_DB=" + sdb.conninfo.encode() in f.read().split(b"\0")
    if is_root():
        nobody = pwd.getpwnam("nobody")
        assert st["Uid"] == [str(nobody.pw_uid)] * 4, "helper did not drop root: %s" % st["Uid"]
        assert st["Gid"][0] != "0"
    # it holds none of httpd's listening sockets
    assert not (listening_inodes(ap.port) & socket_inodes(pid))
    # the spool directory, owned by the User, private
    sd = os.path.join(ap.root, "run", "voxtwilio-spool")
    s = os.stat(sd)
    assert stat.S_IMODE(s.st_mode) == 0o700
    if is_root():
        assert s.st_uid == pwd.getpwnam("nobody").pw_uid
    assert len(helper_pids(ap)) == 1


def test_kill9_restarts_within_1s_and_no_job_is_lost(supervised, sdb, stenant, standin):
    t = stenant()
    ap = supervised()
    pid = wait_helper(ap)
    wait_until(lambda: "listening on voxtwilio_jobs" in ap.read_log(), 10, what="helper ready")
    first = ["before %d %s" % (i, random_hex(6)) for i in range(5)]
    for b in first:
        sms_job(sdb, t, b)
    wait_until(lambda: len(delivered(standin, t)) >= 5, 10, what="first jobs delivered")
    latencies = []
    queued = list(first)
    for k in range(4):
        # the helper is idle when it is killed: a job it is running when killed stays
        # 'running' until --stale-after (docs/helper.md), which is not what this checks
        wait_until(lambda: sdb.scalar("SELECT count(*) FROM jobs WHERE company_id = %d AND "
                                      "status <> 'done'" % t["company_id"]) == "0",
                   10, what="the queued jobs done")
        time.sleep(0.2 + 0.13 * k)  # a different phase of httpd's 1 s maintenance loop
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: len(helper_pids(ap)) >= k + 2, 3, interval=0.002,
                   what="a new helper after kill -9 #%d" % (k + 1))
        latencies.append(time.monotonic() - t0)
        # queued before the new helper listens: their NOTIFY is lost, they must not be
        for i in range(3):
            b = "during kill %d/%d %s" % (k, i, random_hex(6))
            sms_job(sdb, t, b)
            queued.append(b)
        new = helper_pids(ap)[k + 1]
        assert new != pid and pid_alive(new)
        assert not pid_alive(pid), "the killed helper was not reaped"
        pid = new
    print("respawn after kill -9: %s ms" % ", ".join("%.0f" % (x * 1000) for x in latencies))
    assert max(latencies) < 1.0, latencies
    wait_until(lambda: len(delivered(standin, t)) >= len(queued), 15,
               what="every job delivered (%d)" % len(queued))
    time.sleep(0.5)
    got = delivered(standin, t)
    assert sorted(got) == sorted(queued), "lost or repeated jobs"
    assert sdb.scalar("SELECT count(*) FROM jobs WHERE company_id = %d AND status <> 'done'"
                      % t["company_id"]) == "0"
    log = ap.read_log()
    assert "VT10403" in log and "(restart 4)" in log


@pytest.mark.expect_log(*HELPER_254)
def test_exit_254_is_not_respawned(supervised, helper_bin, tenant, client_for, workdir):
    # a wrapper that hands the helper (only the helper) a key file that does not exist
    wrapper = os.path.join(workdir, "helper-badkey-%s.sh" % random_hex(4))
    with open(wrapper, "w") as f:
        f.write('#!/bin/sh\nnext=\nfor a do\n  shift\n'
                '  if [ -n "$next" ]; then a=/nonexistent/voxtwilio.keys; next=; fi\n'
                '  [ "$a" = --key-file ] && next=1\n  set -- "$@" "$a"\ndone\n'
                'exec "%s" "$@"\n' % helper_bin)
    os.chmod(wrapper, 0o755)
    ap = supervised(helper=wrapper)
    pid = wait_helper(ap)
    wait_until(lambda: "VT10406" in ap.read_log(), 10, what="the crit line")
    log = ap.read_log()
    assert "cannot load the key file" in log and "/nonexistent/voxtwilio.keys" in log
    assert log.count("VT10406") == 1
    time.sleep(2.5)
    assert helper_pids(ap) == [pid], "a helper exiting 254 was respawned"
    assert not pid_alive(pid)
    # httpd keeps serving
    t = tenant()
    pyvt.checks.greeting(client_for(ap).post_signed("/voice/inbound", t.params(), t.token), t)
    # a graceful restart with the same configuration does not retry either
    ap.graceful()
    time.sleep(1)
    assert helper_pids(ap) == [pid]
    assert "VT10416" in ap.read_log()


@pytest.mark.parametrize("mpm", ["event", "worker", "prefork"])
def test_graceful_keeps_the_helper(supervised, sdb, stenant, standin, mpm):
    t = stenant()
    ap = supervised(mpm=mpm)
    pid = wait_helper(ap)
    for _ in range(2):
        ap.graceful()
        assert pid_alive(pid)
    log = ap.read_log()
    assert log.count("VT10415: voxtwilio-helper pid %d kept across the restart" % pid) == 2
    assert helper_pids(ap) == [pid], "graceful started another helper"
    assert running_helpers(ap) == [pid]
    assert "stopping voxtwilio-helper" not in log
    # the kept helper still works, and the new generation still supervises it
    body = "after graceful " + random_hex(6)
    sms_job(sdb, t, body)
    wait_until(lambda: body in delivered(standin, t), 10, what="job after graceful")
    t0 = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: len(helper_pids(ap)) >= 2, 3, interval=0.002, what="respawn")
    new = helper_pids(ap)[1]
    print("%s: respawn after graceful + kill -9: %.0f ms" % (mpm, (time.monotonic() - t0) * 1000))
    assert new != pid


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_hard_restart_leaves_one_helper(supervised, mpm):
    """apache2 -k restart: event keeps the helper; prefork's SIGHUP to its process group
    ends it and the new generation starts another. Either way exactly one runs."""
    ap = supervised(mpm=mpm)
    pid = wait_helper(ap)
    off = ap.log_size()
    r = ap._ctl("restart")
    assert r.returncode == 0, r.stderr
    wait_until(lambda: "resuming normal operations" in ap.read_log(off), 15, what="restart")
    # under prefork the old helper may still be finishing when the new generation looks
    time.sleep(1.5)
    wait_until(lambda: len(running_helpers(ap)) == 1, 5, what="one helper after the restart")
    now = running_helpers(ap)[0]
    assert now == helper_pids(ap)[-1]
    if mpm == "event":
        assert now == pid


def test_changed_configuration_replaces_the_helper(supervised, workdir):
    ap = supervised()
    pid = wait_helper(ap)
    ap.server_extra += '\nVoxTwilioRecordingsDir "%s"' % os.path.join(
        workdir, "rec-" + random_hex(6))
    ap.graceful()
    new = wait_helper(ap, 2)
    assert new != pid and not pid_alive(pid)
    assert "--recordings-dir" in helper_cmdline(new)
    assert re.search(r"VT10404: stopping voxtwilio-helper pid %d \(its configuration or key "
                     r"file changed\)"
                     % pid, ap.read_log())


def test_helper_stops_with_httpd(supervised):
    ap = supervised()
    pid = wait_helper(ap)
    ap.stop()
    assert not pid_alive(pid), "the helper outlived httpd"
    assert "VT10404: stopping voxtwilio-helper pid %d (httpd is stopping)" % pid in ap.read_log()


def test_helper_exits_when_httpd_is_killed(supervised):
    ap = supervised()
    pid = wait_helper(ap)
    wait_until(lambda: "listening on voxtwilio_jobs" in ap.read_log(), 10, what="helper ready")
    parent = ap.pid()
    children = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != pid
                and os.path.exists("/proc/%s/status" % p)
                and _ppid(int(p)) == parent]
    os.kill(parent, signal.SIGKILL)
    for c in children:  # httpd's own workers: not the subject here
        try:
            os.kill(c, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_until(lambda: not pid_alive(pid), 3, interval=0.02,
               what="the helper to notice that httpd is gone")


def _ppid(pid):
    try:
        return int(proc_status(pid)["PPid"][0])
    except (OSError, KeyError, ValueError):
        return None


def test_helper_off_and_unconfigured(apache_factory, helper_bin):
    ap = apache_factory(server_extra='VoxTwilioHelper Off\nVoxTwilioHelperDB "dbname=x"')
    assert "VT10410" in ap.read_log() and not helper_pids(ap)
    ap2 = apache_factory(server_extra='VoxTwilioHelper "%s"' % helper_bin)
    assert "VT10411" in ap2.read_log() and not helper_pids(ap2)


@pytest.mark.parametrize("directive, needle", [
    ("VoxTwilioHelper /nonexistent/voxtwilio-helper",
     "VoxTwilioHelper: '/nonexistent/voxtwilio-helper' is not an executable file"),
    ('VoxTwilioHelperDB "host=x password=s3cr3t garbage"',
     "VoxTwilioHelperDB: not a libpq connection string"),
    ('VoxTwilioHelperDB "host=\'x port=1"', "VoxTwilioHelperDB: not a libpq connection string"),
    ("VoxTwilioSpoolDir", "VoxTwilioSpoolDir takes one argument"),
])
def test_directives_checked_at_config_time(config_apache, directive, needle):
    rc, out = config_apache.config_test(server_extra=directive)
    assert rc != 0 and needle in out, out
    assert "s3cr3t" not in out


def test_helper_directives_are_server_wide(config_apache, helper_bin):
    for d in ('VoxTwilioHelper "%s"' % helper_bin, 'VoxTwilioHelperDB "dbname=x"',
              "VoxTwilioSpoolDir spool", "VoxTwilioRecordingsDir rec"):
        rc, out = config_apache.config_test(vhost_extra="    " + d)
        assert rc != 0 and "cannot occur within <VirtualHost> section" in out, (d, out)
    rc, out = config_apache.config_test(
        server_extra='VoxTwilioHelper "%s"\nVoxTwilioHelperDB "postgresql://u@h/db"\n'
                     'VoxTwilioSpoolDir spool\nVoxTwilioRecordingsDir rec' % helper_bin)
    assert rc == 0, out


def test_rotated_keys_replace_the_helper(supervised, sdb, stenant, standin, workdir, key_file,
                                         capture):
    """The helper reads the key file once: after `keys rotate` a graceful restart starts a
    new one (the old one could not decrypt the re-encrypted credentials)."""
    kf = os.path.join(workdir, "sup-rotate-%s.keys" % random_hex(4))
    shutil.copyfile(key_file, kf)
    os.chmod(kf, 0o600)
    t = stenant()
    ap = supervised(key_file=kf)
    pid = wait_helper(ap)
    r = sdb.admin("keys", "rotate", key_file=kf)
    assert r.rc == 0, r
    for kid, key in pyvt.read_key_file(kf):
        capture.add_secret("rotated key %s" % kid, key.hex())
    ap.graceful()
    new = wait_helper(ap, 2)
    assert new != pid
    wait_until(lambda: not pid_alive(pid), 5, what="the old helper to stop")
    assert re.search(r"VT10404: stopping voxtwilio-helper pid %d \(its configuration or key "
                     r"file changed\)" % pid, ap.read_log())
    body = "after rotation " + random_hex(6)
    sms_job(sdb, t, body)
    wait_until(lambda: body in delivered(standin, t), 10, what="a job under the new key")
