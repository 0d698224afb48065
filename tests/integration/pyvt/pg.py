"""A throwaway PostgreSQL 15 cluster on 127.0.0.1 (random port, trust auth).

initdb refuses to run as root, so as root the cluster belongs to the `postgres` user and
initdb/pg_ctl run through `runuser -u postgres --`; otherwise everything runs as yourself.
SQL goes through the psql binary (-At, unit/record separators), so no driver is needed.
"""
import os
import pwd
import shutil
import tempfile

from .util import free_port, is_root, run, wait_until, port_open, user_can_reach

PG_BINDIR = os.environ.get("VT_PG_BINDIR", "/usr/lib/postgresql/15/bin")
_FS = "\x1f"   # field separator
_RS = "\x1e"   # record separator
_NULL = "\x01NULL\x01"


class PgError(RuntimeError):
    pass


def _postgres_can_reach(path):
    """True when the postgres user can traverse every directory up to path."""
    return user_can_reach("postgres", path)


class PgCluster:
    def __init__(self, base_dir=None, port=None, dbname="voxtwilio", user="voxtwilio",
                 bindir=PG_BINDIR, extra_conf=""):
        self.bindir = bindir
        self.extra_conf = extra_conf  # more postgresql.conf lines (the benchmarks')
        self.dbname = dbname
        self.user = user
        self.own_base = base_dir is None
        self.base = base_dir or tempfile.mkdtemp(prefix="vt-pg-")
        os.makedirs(self.base, exist_ok=True)
        os.chmod(self.base, 0o755)
        self.datadir = os.path.join(self.base, "data")
        self.sockdir = os.path.join(self.base, "sock")
        self.logfile = os.path.join(self.base, "postgresql.log")
        self.port = port or free_port()
        self.as_postgres = is_root()

    # ------------------------------------------------------------ plumbing
    def _as_owner(self, cmd):
        if self.as_postgres:
            return ["runuser", "-u", "postgres", "--"] + cmd
        return cmd

    def _chown(self, path):
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def _bin(self, name):
        return os.path.join(self.bindir, name)

    @property
    def conninfo(self):
        return ("host=127.0.0.1 port=%d dbname=%s user=%s connect_timeout=2"
                % (self.port, self.dbname, self.user))

    def conninfo_for(self, dbname=None, user=None):
        return ("host=127.0.0.1 port=%d dbname=%s user=%s connect_timeout=2"
                % (self.port, dbname or self.dbname, user or self.user))

    @property
    def initialized(self):
        return os.path.exists(os.path.join(self.datadir, "PG_VERSION"))

    # ------------------------------------------------------------ lifecycle
    def init(self):
        if not _postgres_can_reach(self.base):
            raise PgError("the postgres user cannot reach %s (a parent directory is not "
                          "traversable); use a base directory under /tmp or /var/tmp" % self.base)
        for d in (self.datadir, self.sockdir):
            os.makedirs(d, exist_ok=True)
            self._chown(d)
        os.chmod(self.datadir, 0o700)
        if not os.path.exists(self.logfile):
            open(self.logfile, "a").close()
        self._chown(self.logfile)
        r = run(self._as_owner([self._bin("initdb"), "-D", self.datadir, "-A", "trust",
                                "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync"]),
                timeout=120)
        if r.returncode != 0:
            raise PgError("initdb failed (%d): %s%s" % (r.returncode, r.stdout, r.stderr))
        self._write_conf()

    def _write_conf(self):
        conf = os.path.join(self.datadir, "postgresql.auto.conf")
        # postgresql.auto.conf is read last; rewrite our settings there (port may change).
        with open(conf, "w") as f:
            f.write("# written by pyvt\n"
                    "listen_addresses = '127.0.0.1'\n"
                    "port = %d\n"
                    "unix_socket_directories = '%s'\n"
                    "fsync = off\n"
                    "synchronous_commit = off\n"
                    "full_page_writes = off\n"
                    "max_connections = 200\n"
                    "log_min_messages = warning\n" % (self.port, self.sockdir)
                    + self.extra_conf)
        self._chown(conf)

    def start(self, timeout=60):
        first = not self.initialized
        if first:
            self.init()
        else:
            self._write_conf()
        r = run(self._as_owner([self._bin("pg_ctl"), "-D", self.datadir, "-l", self.logfile,
                                "-w", "-t", str(timeout), "start"]), timeout=timeout + 10)
        if r.returncode != 0:
            raise PgError("pg_ctl start failed (%d): %s%s\n%s" % (
                r.returncode, r.stdout, r.stderr, self.log_tail()))
        wait_until(lambda: port_open(self.port), 10, what="PostgreSQL port %d" % self.port)
        self._ensure_role_and_db()
        return self

    def _ensure_role_and_db(self):
        su = "host=127.0.0.1 port=%d dbname=postgres user=postgres connect_timeout=5" % self.port
        if not self.psql("SELECT 1 FROM pg_roles WHERE rolname = '%s'" % self.user, conninfo=su):
            self.psql("CREATE ROLE %s LOGIN" % self.user, conninfo=su)
        if not self.psql("SELECT 1 FROM pg_database WHERE datname = '%s'" % self.dbname,
                         conninfo=su):
            self.psql("CREATE DATABASE %s OWNER %s" % (self.dbname, self.user), conninfo=su)

    def running(self):
        if not self.initialized:
            return False
        r = run(self._as_owner([self._bin("pg_ctl"), "-D", self.datadir, "status"]))
        return r.returncode == 0

    def stop(self, mode="fast", timeout=60):
        if not self.running():
            return
        r = run(self._as_owner([self._bin("pg_ctl"), "-D", self.datadir, "-m", mode, "-w",
                                "-t", str(timeout), "stop"]), timeout=timeout + 10)
        if r.returncode != 0:
            raise PgError("pg_ctl stop failed (%d): %s%s" % (r.returncode, r.stdout, r.stderr))

    def restart(self):
        self.stop()
        return self.start()

    def destroy(self):
        try:
            self.stop(mode="immediate")
        finally:
            if self.own_base:
                shutil.rmtree(self.base, ignore_errors=True)

    def log_tail(self, n=30):
        try:
            with open(self.logfile, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    # ------------------------------------------------------------ SQL
    def psql(self, sql, conninfo=None, check=True):
        """Runs one SQL statement; returns a list of rows (tuples of str or None)."""
        cmd = [self._bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
               "-F", _FS, "-R", _RS, "-P", "null=" + _NULL,
               "-d", conninfo or self.conninfo, "-c", sql]
        r = run(cmd, timeout=60)
        if r.returncode != 0:
            if check:
                raise PgError("psql failed (%d) for %r: %s" % (r.returncode, sql, r.stderr.strip()))
            return None
        out = r.stdout
        if out.endswith("\n"):
            out = out[:-1]
        if not out:
            return []
        rows = []
        for rec in out.split(_RS):
            if rec == "":
                continue
            rows.append(tuple(None if v == _NULL else v for v in rec.split(_FS)))
        return rows

    def scalar(self, sql):
        rows = self.psql(sql)
        return rows[0][0] if rows else None

    def tables(self):
        return [r[0] for r in self.psql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]

    def snapshot(self):
        """Every row of every public table (as text), to prove 'database unchanged'.
        Sequences are left out on purpose: a rolled-back insert still consumes one."""
        snap = {}
        for t in self.tables():
            snap[t] = [r[0] for r in self.psql('SELECT t::text FROM "%s" t ORDER BY 1' % t)]
        return snap
