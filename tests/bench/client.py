"""A small asyncio HTTP/1.1 client: keep-alive connections to loopback only.

One connection per concurrent worker, the way a fleet of hosts each keeps
its own connection; both servers are driven by this same code, so the
client's own cost is the same on both sides of every ratio.
"""

import asyncio
import ipaddress
import json
from urllib.parse import urlparse


class HTTPError(RuntimeError):
    """The connection broke or the answer was not HTTP."""


def check_loopback(addr):
    """Refuse any address that is not on the loopback network."""
    host = urlparse(addr).hostname or ""
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"the bench talks to loopback only, not {host}")
    return addr


class Connection:
    """One keep-alive HTTP/1.1 connection to a server."""

    def __init__(self, addr):
        parsed = urlparse(check_loopback(addr))
        self.host = parsed.hostname
        self.port = parsed.port
        self.reader = None
        self.writer = None

    async def open(self):
        """Connect (again, after the server closed an idle connection)."""
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self):
        """Close the connection."""
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
            self.writer = None

    async def request(self, method, path, body=None, token=None):
        """Send one request; return (status, parsed JSON or None)."""
        for attempt in (1, 2):
            if self.writer is None:
                await self.open()
            try:
                return await self._exchange(method, path, body, token)
            except (HTTPError, ConnectionError, asyncio.IncompleteReadError):
                # A keep-alive connection the server closed while idle is
                # reopened once; a second failure is the server's.
                await self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _exchange(self, method, path, body, token):
        payload = b"" if body is None else json.dumps(body).encode()
        head = [
            f"{method} /v1/{path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            f"Content-Length: {len(payload)}",
        ]
        if body is not None:
            head.append("Content-Type: application/json")
        if token:
            head.append(f"X-Vault-Token: {token}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        status_line = await self.reader.readline()
        if not status_line:
            raise HTTPError("connection closed")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise HTTPError(f"not an HTTP answer: {status_line[:80]!r}")
        status = int(parts[1])
        headers = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            raw = await self._chunked()
        else:
            raw = await self.reader.readexactly(int(headers.get("content-length", 0)))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        text = raw.strip()
        return status, json.loads(text) if text else None

    async def _chunked(self):
        chunks = []
        while True:
            size = int((await self.reader.readline()).split(b";")[0], 16)
            if size == 0:
                await self.reader.readline()
                return b"".join(chunks)
            chunks.append(await self.reader.readexactly(size))
            await self.reader.readline()
