"""Runs the real voxtwilio-admin tool with --db/--key-file/--api-base."""
import os

from .util import run


class AdminResult(tuple):
    """(rc, stdout, stderr) that also has .rc/.out/.err and .lines (non-empty output lines)."""

    def __new__(cls, rc, out, err, argv):
        self = super().__new__(cls, (rc, out, err))
        self.argv = argv
        return self

    rc = property(lambda self: self[0])
    out = property(lambda self: self[1])
    err = property(lambda self: self[2])

    @property
    def lines(self):
        return [l for l in (self.out + self.err).splitlines() if l.strip()]

    def __repr__(self):
        return "AdminResult(rc=%r, argv=%r, stdout=%r, stderr=%r)" % (
            self.rc, self.argv, self.out[-2000:], self.err[-2000:])


class Admin:
    def __init__(self, binary, conninfo=None, key_file=None, api_base=None, capture=None):
        self.binary = binary
        self.conninfo = conninfo
        self.key_file = key_file
        self.api_base = api_base
        self.capture = capture

    def __call__(self, *args, **kw):
        return self.run(*args, **kw)

    def run(self, *args, input=None, db=..., key_file=..., api_base=..., env=None, timeout=60):
        """voxtwilio-admin [--db C] [--key-file F] [--api-base U] ARGS...
        Pass db=None / key_file=None / api_base=None to leave an option out."""
        db = self.conninfo if db is ... else db
        key_file = self.key_file if key_file is ... else key_file
        api_base = self.api_base if api_base is ... else api_base
        argv = [self.binary]
        if db is not None:
            argv += ["--db", db]
        if key_file is not None:
            argv += ["--key-file", key_file]
        if api_base is not None:
            argv += ["--api-base", api_base]
        argv += [str(a) for a in args]
        e = dict(os.environ)
        # The tool must get everything from its options, not from a stray environment.
        for k in ("VOXTWILIO_KEY_FILE", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER",
                  "PGSERVICE", "PGPASSWORD"):
            e.pop(k, None)
        if env:
            e.update(env)
        r = run(argv, input=input, env=e, timeout=timeout)
        if self.capture is not None:
            self.capture.add_text("admin stdout: %s" % " ".join(argv[1:]), r.stdout)
            self.capture.add_text("admin stderr: %s" % " ".join(argv[1:]), r.stderr)
        return AdminResult(r.returncode, r.stdout, r.stderr, argv)
