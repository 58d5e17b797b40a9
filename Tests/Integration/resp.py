"""Raw RESP helpers for the integration tests: encode commands, read whole replies as bytes.

Replies are returned exactly as the server sent them so that two servers can be compared
byte for byte; `parse` turns such bytes into Python values when only the structure matters.
"""
import socket
import time

HOST = "127.0.0.1"


def encode(*args):
    """One command as a RESP multibulk request."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Closed(Exception):
    """The server closed the connection before a whole reply arrived."""


class RawConn:
    """A plain socket with a read buffer that can cut the stream into whole RESP replies."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        if self.eof:
            raise Closed(self.buf)
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            self.eof = True
            raise Closed(self.buf)
        self.buf += chunk

    def _line_end(self, pos):
        while True:
            i = self.buf.find(b"\r\n", pos)
            if i >= 0:
                return i
            self._fill()

    def _skip_reply(self, pos):
        """Returns the offset just after the reply that starts at `pos` in the buffer."""
        while len(self.buf) <= pos:
            self._fill()
        t = self.buf[pos:pos + 1]
        end = self._line_end(pos)
        head = self.buf[pos + 1:end]
        pos = end + 2
        if t in b"+-:_,#(":
            return pos
        if t in b"$!=":
            n = int(head)
            if n < 0:
                return pos
            while len(self.buf) < pos + n + 2:
                self._fill()
            return pos + n + 2
        if t in b"*~>%|":
            n = int(head)
            if t in b"%|":
                n *= 2
            for _ in range(max(n, 0)):
                pos = self._skip_reply(pos)
            return pos
        raise ValueError("not a RESP reply at %r" % self.buf[pos - len(head) - 3:][:64])

    def read_reply(self):
        """The next whole reply, as raw bytes."""
        end = self._skip_reply(0)
        r, self.buf = self.buf[:end], self.buf[end:]
        return r

    def read_replies(self, n):
        return [self.read_reply() for _ in range(n)]

    def call(self, *args):
        self.send(encode(*args))
        return self.read_reply()

    def read_until_close(self, timeout=5.0):
        """Everything the server sends until it closes the connection. Raises if it stays open."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("connection still open after %.1fs; got %r" % (timeout, self.buf[:200]))
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 16)
            except ConnectionResetError:
                break
            except socket.timeout:
                continue
            if not chunk:
                break
            self.buf += chunk
        self.eof = True
        r, self.buf = self.buf, b""
        return r

    def is_open(self, wait=0.3):
        """True when nothing arrives and the peer has not closed within `wait` seconds."""
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(1 << 16)
        except socket.timeout:
            return True
        except ConnectionResetError:
            return False
        finally:
            self.sock.settimeout(10.0)
        if chunk:
            self.buf += chunk
            return True
        self.eof = True
        return False


def parse(data):
    """RESP bytes -> Python values (bulk -> bytes, simple -> str, error -> RespError)."""
    v, pos = _parse(data, 0)
    assert pos == len(data), "trailing bytes after reply: %r" % data[pos:]
    return v


class RespError(str):
    pass


def _parse(d, pos):
    t = d[pos:pos + 1]
    end = d.index(b"\r\n", pos)
    head = d[pos + 1:end]
    pos = end + 2
    if t == b"+":
        return head.decode(), pos
    if t == b"-":
        return RespError(head.decode()), pos
    if t == b":":
        return int(head), pos
    if t == b"$":
        n = int(head)
        if n < 0:
            return None, pos
        return d[pos:pos + n], pos + n + 2
    if t == b"*":
        n = int(head)
        if n < 0:
            return None, pos
        out = []
        for _ in range(n):
            v, pos = _parse(d, pos)
            out.append(v)
        return out, pos
    raise ValueError("unsupported RESP type %r" % t)
