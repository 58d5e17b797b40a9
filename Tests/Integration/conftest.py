"""Fixtures that run real server processes on free loopback ports.

SERVER_CMD     the server under test; `{port}` is replaced. Default: the release build of
               swift-redis. To check the tests themselves against Redis:
               SERVER_CMD='redis-server --port {port} --save "" --appendonly no'
REFERENCE_CMD  the real redis-server used by differential tests (same placeholder).

Every server is started by a fixture, talks only on 127.0.0.1, is polled with PING until it
answers (10 s at most), and is killed in teardown. A server that died during a test fails
that test, with the tail of its log in the message.
"""
import os
import shlex
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from resp import RawConn, Closed

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_SERVER_CMD = ".build/release/swift-redis --port {port} --bind 127.0.0.1 --save '' --appendonly no"
DEFAULT_REFERENCE_CMD = "redis-server --port {port} --save '' --appendonly no"
START_TIMEOUT = 10.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_redis_server(argv):
    return os.path.basename(argv[0]).startswith("redis-server")


class Server:
    """One server process: its port, pid and log, with liveness checks."""

    def __init__(self, template, name):
        self.template = template
        self.name = name
        self.proc = None
        self.port = None
        self.logfile = None

    @property
    def pid(self):
        return self.proc.pid

    @property
    def is_redis(self):
        return is_redis_server(self.argv)

    def start(self):
        last = None
        for _ in range(3):  # a free port can be taken between probe and bind: retry on a new one
            self.port = free_port()
            self.argv = shlex.split(self.template.format(port=self.port))
            if "--dir" not in self.argv:
                # SAVE, DEBUG RELOAD, SHUTDOWN with save points and replicas' snapshots write
                # dump.rdb: each server gets a directory of its own, never the checkout.
                self.argv += ["--dir", tempfile.mkdtemp(prefix="%s-dir-" % self.name)]
            if is_redis_server(self.argv):
                # Redis 7 refuses DEBUG unless enabled; bind only loopback like our server does.
                self.argv += ["--bind", "127.0.0.1", "--enable-debug-command", "yes"]
            self.logfile = tempfile.NamedTemporaryFile(prefix="%s-%d-" % (self.name, self.port),
                                                       suffix=".log", delete=False)
            self.proc = subprocess.Popen(self.argv, cwd=REPO, stdin=subprocess.DEVNULL,
                                         stdout=self.logfile, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if self.ping():
                    return self
                time.sleep(0.05)
            exited = self.proc.poll() is not None
            last = "exited with %s" % self.proc.poll() if exited else "no PONG in %.0fs" % START_TIMEOUT
            self.kill()
            if not exited:
                break  # a server that hangs will hang again: do not wait three times
        raise RuntimeError("%s (%s) did not start: %s\n%s" % (self.name, " ".join(self.argv), last, self.log_tail()))

    def ping(self):
        try:
            with RawConn(self.port, timeout=1.0) as c:
                return c.call("PING") == b"+PONG\r\n"
        except (OSError, Closed, ValueError):
            return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=40):
        if not self.logfile:
            return ""
        try:
            with open(self.logfile.name, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""

    def assert_alive(self):
        assert self.alive(), "%s died (exit %s); log tail:\n%s" % (self.name, self.proc.poll(), self.log_tail())

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        if self.logfile:
            self.logfile.close()

    def stop(self):
        self.kill()
        if self.logfile:
            try:
                os.unlink(self.logfile.name)
            except OSError:
                pass

    def conn(self, timeout=10.0):
        return RawConn(self.port, timeout=timeout)

    def client(self, **kw):
        import redis
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10, **kw)


def _server_cmd():
    return os.environ.get("SERVER_CMD", DEFAULT_SERVER_CMD)


def _reference_cmd():
    return os.environ.get("REFERENCE_CMD", DEFAULT_REFERENCE_CMD)


class _Holder:
    """A module-wide server that is restarted if an earlier test crashed it."""

    def __init__(self, template, name):
        self.template, self.name, self.server = template, name, None
        self.start_error = None

    def get(self):
        if self.start_error is not None:  # fail the module's other tests fast, same reason
            raise RuntimeError(self.start_error)
        if self.server is None or not self.server.alive():
            if self.server is not None:
                self.server.kill()
            try:
                self.server = Server(self.template, self.name).start()
            except RuntimeError as e:
                self.start_error = str(e)
                raise
        return self.server

    def close(self):
        if self.server is not None:
            self.server.stop()


def _flush(srv):
    with srv.conn() as c:
        assert c.call("FLUSHALL") == b"+OK\r\n"


@pytest.fixture(scope="module")
def _server_holder():
    h = _Holder(_server_cmd(), "server")
    yield h
    h.close()


@pytest.fixture(scope="module")
def _reference_holder():
    h = _Holder(_reference_cmd(), "reference")
    yield h
    h.close()


@pytest.fixture
def server(_server_holder):
    """The server under test, emptied, shared by a module; fails the test if it died."""
    srv = _server_holder.get()
    _flush(srv)
    yield srv
    srv.assert_alive()


@pytest.fixture
def reference(_reference_holder):
    """A real redis-server for differential tests, emptied, shared by a module."""
    srv = _reference_holder.get()
    _flush(srv)
    yield srv
    srv.assert_alive()


@pytest.fixture
def fresh_server():
    """A server of its own for tests that stop it or count its resources."""
    started = []

    def make():
        s = Server(_server_cmd(), "server").start()
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


def pytest_sessionfinish(session, exitstatus):
    # A run that collected nothing, or skipped everything, proves nothing: make it fail.
    if exitstatus == 0 and session.testscollected == 0:
        session.exitstatus = 1
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if exitstatus == 0 and reporter is not None and not reporter.stats.get("passed"):
        session.exitstatus = 1
