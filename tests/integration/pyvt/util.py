"""Small helpers shared by the pyvt harness: paths from the environment, free ports,
waiting, process helpers, and the Capture that records everything the suite saw."""
import os
import socket
import subprocess
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SRCDIR = os.path.abspath(os.path.join(HERE, "..", "..", ".."))


class Paths:
    """Where things are, from the variables `make check` exports (with sane defaults)."""

    def __init__(self, builddir=None, srcdir=None, httpd=None, moduledir=None):
        self.builddir = os.path.abspath(builddir or os.environ.get("VT_BUILDDIR") or os.getcwd())
        self.srcdir = os.path.abspath(srcdir or os.environ.get("VT_SRCDIR") or DEFAULT_SRCDIR)
        self.httpd = httpd or os.environ.get("VT_HTTPD") or "/usr/sbin/apache2"
        self.moduledir = (moduledir or os.environ.get("VT_APACHE_MODULEDIR")
                          or "/usr/lib/apache2/modules")

    @property
    def module_so(self):
        return os.path.join(self.builddir, ".libs", "mod_voxtwilio.so")

    @property
    def admin_bin(self):
        return os.path.join(self.builddir, "voxtwilio-admin")

    @property
    def sim_bin(self):
        return os.path.join(self.builddir, "voxtwilio-sim")


def is_root():
    return os.geteuid() == 0


def user_can_reach(user, path):
    """True when `user` can traverse every directory up to path (always True when not root,
    because then nothing changes user)."""
    if not is_root():
        return True
    r = subprocess.run(["runuser", "-u", user, "--", "test", "-x", path],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return r.returncode == 0


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port, host="127.0.0.1", timeout=0.2):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(pred, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists"; reap it if it is ours.
    try:
        wpid, _ = os.waitpid(pid, os.WNOHANG)
        if wpid == pid:
            return False
    except ChildProcessError:
        pass
    try:
        with open("/proc/%d/stat" % pid) as f:
            if f.read().split(")")[-1].split()[0] == "Z":
                return False
    except OSError:
        return False
    return True


def run(cmd, input=None, env=None, timeout=60, cwd=None):
    """subprocess.run with text I/O; returns CompletedProcess (never raises on rc)."""
    return subprocess.run(cmd, input=input, env=env, timeout=timeout, cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          errors="replace", stdin=None if input is not None else subprocess.DEVNULL)


def make_key_file(path, key_id="ktest", mode=0o600, hexkey=None):
    """Writes a key file in the documented format without the admin tool
    (used by config tests, so they do not depend on voxtwilio-admin)."""
    hexkey = hexkey or os.urandom(32).hex()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("%s:%s\n" % (key_id, hexkey))
    os.chmod(path, mode)
    return path


def read_key_file(path):
    """[(key_id, key_bytes)] in file order (first = active)."""
    keys = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            kid, _, hx = line.partition(":")
            keys.append((kid, bytes.fromhex(hx)))
    return keys


class Capture:
    """Everything the suite saw that must never contain a secret: admin output,
    HTTP response bodies and headers, plus the log files of every server started.
    Thread-safe; shared by the whole session (and the demo)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.texts = []          # (source, text)
        self.log_files = []      # paths
        self.secrets = []        # (label, secret)

    def add_text(self, source, text):
        if text is None:
            return
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        with self._lock:
            self.texts.append((source, text))

    def add_log_file(self, path):
        with self._lock:
            if path not in self.log_files:
                self.log_files.append(path)

    def add_secret(self, label, secret):
        with self._lock:
            self.secrets.append((label, secret))

    def leaks(self):
        """[(label, where)] for every secret found anywhere it must not be."""
        found = []
        with self._lock:
            texts = list(self.texts)
            logs = list(self.log_files)
            secrets = list(self.secrets)
        for path in logs:
            try:
                with open(path, "rb") as f:
                    texts.append((path, f.read().decode("utf-8", "replace")))
            except OSError:
                pass
        for label, secret in secrets:
            for source, text in texts:
                if secret and secret in text:
                    found.append((label, source))
        return found
