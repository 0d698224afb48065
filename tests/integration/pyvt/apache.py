"""A real Apache httpd (Debian's /usr/sbin/apache2, event MPM) on a random loopback port,
loading the freshly built mod_voxtwilio.so, with a config generated into a temp ServerRoot."""
import os
import re
import signal
import tempfile

from .util import free_port, is_root, pid_alive, port_open, run, wait_until

# Lines that fail a test whatever it declared.
FATAL_PATTERNS = [
    re.compile(r"exit signal"),
    re.compile(r"Segmentation fault"),
    re.compile(r"AddressSanitizer"),
    re.compile(r"LeakSanitizer"),
    re.compile(r"runtime error: "),   # UBSan
]
# Lines that fail a test unless it declared them expected.
ERROR_PATTERN = re.compile(r"\[[A-Za-z0-9_]+:(error|crit|alert|emerg)\]")


# The helper's stream socket when VoxTwilioStreamSocket is not set: below DefaultRuntimeDir.
DEFAULT_STREAM_SOCKET = "voxtwilio/stream.sock"


def scan_log_text(text, expected=()):
    """Returns the offending lines of an error-log excerpt."""
    bad = []
    exp = [re.compile(p) if isinstance(p, str) else p for p in expected]
    for line in text.splitlines():
        if any(p.search(line) for p in FATAL_PATTERNS):
            bad.append(line)
            continue
        if ERROR_PATTERN.search(line) and not any(p.search(line) for p in exp):
            bad.append(line)
    return bad


class ApacheError(RuntimeError):
    pass


def httpd_env():
    """The environment httpd runs with. VT_HTTPD_PRELOAD (e.g. the path of libasan.so) is
    put in LD_PRELOAD so a sanitizer-built module can load into the uninstrumented apache2;
    its reports then land in the error log, where the scanner fails the test."""
    env = dict(os.environ)
    pre = os.environ.get("VT_HTTPD_PRELOAD")
    if pre:
        env["LD_PRELOAD"] = pre + ((" " + env["LD_PRELOAD"]) if env.get("LD_PRELOAD") else "")
        # httpd never frees its pools at exit: leak reports would only be noise.
        env["ASAN_OPTIONS"] = os.environ.get("VT_HTTPD_ASAN_OPTIONS", "detect_leaks=0")
        env["UBSAN_OPTIONS"] = os.environ.get("VT_HTTPD_UBSAN_OPTIONS", "print_stacktrace=1")
    return env


class Apache:
    """One httpd instance. Extra directives go at server level (server_extra), inside the
    <VirtualHost> (vhost_extra) or inside <Location /voice> (location_extra)."""

    def __init__(self, paths, conninfo, key_file, api_base=None, root=None, port=None,
                 server_extra="", vhost_extra="", location_extra="", voxtwilio="On",
                 with_dbd=True, with_module=True, log_level="info", module_log_level="debug",
                 location="/voice", mpm="event", docroot=None, capture=None,
                 stream_socket=None, helper=None):
        self.paths = paths
        self.conninfo = conninfo
        self.key_file = key_file
        self.api_base = api_base
        self.root = root or tempfile.mkdtemp(prefix="vt-httpd-")
        os.makedirs(self.root, exist_ok=True)
        os.chmod(self.root, 0o755)
        for d in ("logs", "run", "conf", "htdocs"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        self.port = port or free_port()
        self.server_extra = server_extra
        self.vhost_extra = vhost_extra
        self.location_extra = location_extra
        self.voxtwilio = voxtwilio
        self.with_dbd = with_dbd
        self.with_module = with_module
        self.log_level = log_level
        self.module_log_level = module_log_level
        self.location = location
        self.mpm = mpm
        self.docroot = docroot or os.path.join(self.root, "htdocs")
        os.makedirs(self.docroot, exist_ok=True)
        self.capture = capture
        # Media Streams: {location}/stream proxied (mod_proxy_wstunnel) to this unix socket.
        self.stream_socket = stream_socket
        # voxtwilio-helper (a path), started by httpd against conninfo, streams included.
        self.helper = helper
        self.conf_path = os.path.join(self.root, "conf", "httpd.conf")
        self.pid_file = os.path.join(self.root, "run", "httpd.pid")
        self.error_log = os.path.join(self.root, "logs", "error_log")
        self.access_log = os.path.join(self.root, "logs", "access_log")
        self.last_start = None      # CompletedProcess of the last -k start
        if capture is not None:
            capture.add_log_file(self.error_log)
            capture.add_log_file(self.access_log)

    # ------------------------------------------------------------ config
    def base_url(self):
        return "http://127.0.0.1:%d" % self.port

    def url(self, path):
        return self.base_url() + path

    def render(self, server_extra=None, vhost_extra=None, location_extra=None, key_file=...,
               voxtwilio=None, with_dbd=None, api_base=...):
        md = self.paths.moduledir
        server_extra = self.server_extra if server_extra is None else server_extra
        vhost_extra = self.vhost_extra if vhost_extra is None else vhost_extra
        location_extra = self.location_extra if location_extra is None else location_extra
        key_file = self.key_file if key_file is ... else key_file
        voxtwilio = self.voxtwilio if voxtwilio is None else voxtwilio
        with_dbd = self.with_dbd if with_dbd is None else with_dbd
        api_base = self.api_base if api_base is ... else api_base
        lines = [
            "# generated by pyvt",
            'ServerRoot "%s"' % self.root,
            'DefaultRuntimeDir "%s/run"' % self.root,
            'PidFile "%s"' % self.pid_file,
            "Listen 127.0.0.1:%d" % self.port,
            "ServerName localhost",
            "LoadModule mpm_%s_module %s/mod_mpm_%s.so" % (self.mpm, md, self.mpm),
            "LoadModule authz_core_module %s/mod_authz_core.so" % md,
            "LoadModule authz_host_module %s/mod_authz_host.so" % md,
            "LoadModule status_module %s/mod_status.so" % md,
        ]
        if with_dbd:
            lines.append("LoadModule dbd_module %s/mod_dbd.so" % md)
        if self.stream_socket:
            for m in ("proxy", "proxy_http", "proxy_wstunnel"):
                lines.append("LoadModule %s_module %s/mod_%s.so" % (m, md, m))
        if self.with_module:
            lines.append("LoadModule voxtwilio_module %s" % self.paths.module_so)
        if is_root():
            lines += ["User nobody", "Group nogroup"]
        lines += [
            'ErrorLog "%s"' % self.error_log,
            "LogLevel %s%s" % (self.log_level,
                               (" voxtwilio:%s" % self.module_log_level)
                               if self.module_log_level and self.with_module else ""),
            'LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{User-Agent}i\\"" vtcommon',
            'CustomLog "%s" vtcommon' % self.access_log,
        ]
        if self.mpm == "prefork":
            lines += ["StartServers 2", "MinSpareServers 1", "MaxSpareServers 4",
                      "MaxRequestWorkers 16"]
        else:
            lines += ["StartServers 1", "ServerLimit 4", "ThreadsPerChild 16",
                      "MaxRequestWorkers 32", "MinSpareThreads 4", "MaxSpareThreads 32"]
        lines += [
            "Timeout 20",
            "KeepAlive On",
            "GracefulShutdownTimeout 5",
            'DocumentRoot "%s"' % self.docroot,
            # No .htaccess lookups (they fail below a 0700 directory such as /root).
            '<Directory "/">',
            "    AllowOverride None",
            "</Directory>",
        ]
        if with_dbd:
            lines += ["DBDriver pgsql", 'DBDParams "%s"' % self.conninfo]
        if key_file is not None and self.with_module:
            lines.append('VoxTwilioKeyFile "%s"' % key_file)
        if self.helper:
            lines += ['VoxTwilioHelper "%s"' % self.helper,
                      'VoxTwilioHelperDB "%s"' % self.conninfo]
            if self.stream_socket and self.stream_socket != DEFAULT_STREAM_SOCKET:
                lines.append('VoxTwilioStreamSocket "%s"' % self.stream_socket)
        if server_extra:
            lines.append(server_extra)
        lines += [
            "<VirtualHost 127.0.0.1:%d>" % self.port,
            "    ServerName localhost",
        ]
        if self.with_module:
            if voxtwilio is not None:
                lines.append("    VoxTwilio %s" % voxtwilio)
            if api_base is not None:
                lines.append("    VoxTwilioAPIBase %s" % api_base)
        if vhost_extra:
            lines.append(vhost_extra)
        lines += [
            "    <Location /server-status>",
            "        SetHandler server-status",
            "        Require ip 127.0.0.1",
            "    </Location>",
        ]
        if self.with_module:
            lines += ["    <Location %s>" % self.location, "        SetHandler voxtwilio"]
            if location_extra:
                lines.append(location_extra)
            lines.append("    </Location>")
            if self.stream_socket:
                lines += ["    <Location %s/stream>" % self.location.rstrip("/"),
                          "        ProxyPass unix:%s|ws://localhost/ upgrade=websocket "
                          "retry=0" % self.stream_socket,
                          "    </Location>"]
        lines.append("</VirtualHost>")
        return "\n".join(lines) + "\n"

    def write_config(self):
        with open(self.conf_path, "w") as f:
            f.write(self.render())
        return self.conf_path

    def config_test(self, conf_text=None, **overrides):
        """apache2 -t on a config (default: this instance's, with overrides applied as in
        render()). Returns (rc, combined output)."""
        text = conf_text if conf_text is not None else self.render(**overrides)
        fd, path = tempfile.mkstemp(prefix="test-", suffix=".conf",
                                    dir=os.path.join(self.root, "conf"))
        with os.fdopen(fd, "w") as f:
            f.write(text)
        r = run([self.paths.httpd, "-t", "-d", self.root, "-f", path], timeout=60,
                env=httpd_env())
        return r.returncode, r.stdout + r.stderr

    # ------------------------------------------------------------ lifecycle
    def pid(self):
        try:
            with open(self.pid_file) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def running(self):
        pid = self.pid()
        return pid is not None and pid_alive(pid)

    def log_size(self, path=None):
        try:
            return os.path.getsize(path or self.error_log)
        except OSError:
            return 0

    def wait_for_helper(self, timeout=15):
        """Until the helper listens for jobs (and for streams, when it serves them)."""
        wait_until(lambda: "listening on voxtwilio_jobs" in self.read_log()
                   and (not self.stream_socket or "streams: listening" in self.read_log()),
                   timeout, what="the helper in %s" % self.error_log)

    def read_log(self, since=0, path=None):
        try:
            with open(path or self.error_log, "rb") as f:
                f.seek(since)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _ctl(self, action, timeout=30):
        return run([self.paths.httpd, "-d", self.root, "-f", self.conf_path, "-k", action],
                   timeout=timeout, env=httpd_env())

    def start(self, timeout=10):
        if self.running():
            raise ApacheError("already running (pid %s)" % self.pid())
        self.write_config()
        start_off = self.log_size()
        r = self._ctl("start")
        self.last_start = r
        if r.returncode != 0:
            raise ApacheError("%s -k start failed (rc %d):\n%s%s\n--- error_log:\n%s" % (
                self.paths.httpd, r.returncode, r.stdout, r.stderr, self.read_log(start_off)[-4000:]))
        try:
            # "resuming normal operations" too: a graceful signal sent before it can land
            # mid-start, and graceful() would mistake this line for its own.
            wait_until(lambda: port_open(self.port) and self.pid() is not None
                       and "resuming normal operations" in self.read_log(start_off), timeout,
                       what="httpd on port %d" % self.port)
        except TimeoutError:
            raise ApacheError("httpd did not come up within %ss:\n%s%s\n--- error_log:\n%s" % (
                timeout, r.stdout, r.stderr, self.read_log(start_off)[-4000:]))
        return self

    def stop(self, timeout=15):
        pid = self.pid()
        if pid is None or not pid_alive(pid):
            return
        self._ctl("stop")
        try:
            wait_until(lambda: not pid_alive(pid), timeout, what="httpd pid %d to exit" % pid)
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not pid_alive(pid), 5, what="httpd pid %d to die" % pid)
        # Children go away with the parent; give the port a moment.
        wait_until(lambda: not port_open(self.port), 5, what="port %d to close" % self.port)

    def graceful(self, timeout=15):
        """apache2 -k graceful, then wait for the new generation to report
        'resuming normal operations' and the port to answer."""
        off = self.log_size()
        self.write_config()
        r = self._ctl("graceful")
        if r.returncode != 0:
            raise ApacheError("graceful failed (rc %d): %s%s" % (r.returncode, r.stdout, r.stderr))
        try:
            wait_until(lambda: "resuming normal operations" in self.read_log(off), timeout,
                       what="graceful restart")
        except TimeoutError:
            raise ApacheError("graceful restart did not complete:\n" + self.read_log(off)[-4000:])
        if not self.running():
            raise ApacheError("httpd exited during graceful restart:\n" + self.read_log(off)[-4000:])
        wait_until(lambda: port_open(self.port), timeout, what="port after graceful")
        return r

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
