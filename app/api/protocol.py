"""The HTTP connection guards: uvicorn's httptools protocol with limits on what one client
may hold, and a server whose shutdown loses no request.

uvicorn alone applies none of these: a connection that never sends a byte, or drips a header
byte a second, is held forever; a client that never reads its answer keeps the answer's bytes
alive; a header of any size or count is accepted (``httptools`` buffers it whole). Here, per
connection (the settings are in the README):

- **idle** (``DSCT_IDLE_TIMEOUT``): a connection without a request in progress (fresh, or kept
  alive after an answer) is closed after this long.
- **header** (``DSCT_HEADER_TIMEOUT``): a request's head must be complete this long after its
  first byte, else 408 ``request_timeout`` and the connection is closed.
- **header limits** (``DSCT_MAX_HEADER_BYTES``, ``DSCT_MAX_HEADERS``): past either, 431
  ``headers_too_large`` before the parser buffers more.
- **body** (``DSCT_BODY_TIMEOUT``, ``DSCT_MIN_BODY_RATE``): a body may take at most
  ``body_timeout + bytes_received / min_body_rate`` seconds: a stalled or dripping upload is
  answered 408 (or dropped if its answer has begun) instead of holding its memory.
- **write** (``DSCT_WRITE_TIMEOUT``): a client that does not read its answer for this long
  (the transport's buffer stays over its high-water mark) is disconnected.
- **connections** (``DSCT_MAX_CONNECTIONS`` per worker): at the cap, a new connection closes
  an idle one, or is itself closed when none is idle.

Shutdown (:class:`GuardedServer`): listening stops, but connections already queued on the
listening socket are accepted and answered rather than reset; a request in progress or
arriving in the next :data:`DRAIN_GRACE` seconds on a kept-alive connection is answered with
``Connection: close``; idle connections are closed after that grace.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn import Server
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from app import metrics
from app.errors import ApiError
from app.settings import Settings

#: seconds an idle kept-alive connection stays open after shutdown began, so that a request
#: its client already sent is answered (with Connection: close) instead of lost
DRAIN_GRACE = 1.0


@dataclass(frozen=True)
class Limits:
    max_connections: int
    max_header_bytes: int
    max_headers: int
    idle_timeout: float
    header_timeout: float
    body_timeout: float
    min_body_rate: int
    write_timeout: float

    @classmethod
    def from_settings(cls, s: Settings) -> Limits:
        return cls(s.max_connections, s.max_header_bytes, s.max_headers, s.idle_timeout, s.header_timeout,
                   s.body_timeout, s.min_body_rate, s.write_timeout)


class _TooManyHeaders(Exception):
    pass


def error_bytes(code: str, message: str) -> bytes:
    """A whole HTTP/1.1 error answer (the service's JSON error body), closing the connection."""
    err = ApiError(code, message)
    body = err.body_bytes()
    return b"".join([STATUS_LINE[err.status], b"content-type: application/json\r\n",
                     b"content-length: ", str(len(body)).encode(), b"\r\nconnection: close\r\n\r\n", body])


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the guards of the module's docs (``limits`` is set
    on the subclass made by :func:`protocol_class`)."""

    limits: Limits

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_open = True  # waiting for the first byte or the rest of a request's head
        self._head_bytes = 0
        self._head_tail = b""
        self._head_timer: asyncio.TimerHandle | None = None
        self._header_count = 0
        self._body_timer: asyncio.TimerHandle | None = None
        self._body_t0 = 0.0
        self._body_bytes = 0
        self._write_timer: asyncio.TimerHandle | None = None
        self._draining = False

    # connections
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections and not self._evict_idle():
            metrics.observe_connection("refused")
            transport.close()
            return
        self._draining = getattr(self.server_state, "draining", False)
        self.timeout_keep_alive_task = self.loop.call_later(self.limits.idle_timeout,
                                                            self.timeout_keep_alive_handler)

    def _idle(self) -> bool:
        return self._head_bytes == 0 and self._head_open and (self.cycle is None or self.cycle.response_complete)

    def _evict_idle(self) -> bool:
        """Close one idle connection of this worker to make room; False if none is idle."""
        for conn in self.connections:
            if conn is not self and isinstance(conn, GuardedProtocol) and conn._idle() \
                    and not conn.transport.is_closing():
                conn.transport.close()
                metrics.observe_connection("evicted")
                return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._head_timer, self._body_timer, self._write_timer):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    def _reject(self, code: str, message: str) -> None:
        """Answer an error ourselves (no request is running) and close the connection."""
        if not self.transport.is_closing():
            self.transport.write(error_bytes(code, message))
            self.transport.close()
        metrics.observe_connection(code)

    # reading
    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        if self._head_open and not self._head_within_limit(data):
            self._reject("headers_too_large",
                         f"request head over {self.limits.max_header_bytes} bytes (DSCT_MAX_HEADER_BYTES)")
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # as uvicorn: the request is served, the upgrade ignored
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, _TooManyHeaders) or isinstance(exc.__cause__, _TooManyHeaders) \
                    or self._header_count > self.limits.max_headers:
                self._reject("headers_too_large",
                             f"more than {self.limits.max_headers} header fields (DSCT_MAX_HEADERS)")
            else:
                self.send_400_response("Invalid HTTP request received.")

    def _head_within_limit(self, data: bytes) -> bool:
        """Counts the bytes of the head being received; False once it passes the limit."""
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timeout)
        seen = self._head_tail + data
        end = seen.find(b"\r\n\r\n")
        size = self._head_bytes + (len(data) if end < 0 else end + 4 - len(self._head_tail))
        self._head_bytes += len(data)
        self._head_tail = seen[-3:]
        return size <= self.limits.max_header_bytes

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self._head_open and (self.cycle is None or self.cycle.response_complete):
            self._reject("request_timeout",
                         f"request head not complete within {self.limits.header_timeout:g} s (DSCT_HEADER_TIMEOUT)")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_count = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            raise _TooManyHeaders
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_open = False
        self._head_bytes = 0
        self._head_tail = b""
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().on_headers_complete()
        if self._draining and self.cycle is not None:
            self.cycle.keep_alive = False
        self._body_t0 = time.monotonic()
        self._body_bytes = 0
        self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_check)

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._head_open = True
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    def _body_check(self) -> None:
        """The body's deadline: ``body_timeout`` plus one second per ``min_body_rate`` bytes."""
        self._body_timer = None
        allowed = self.limits.body_timeout + self._body_bytes / self.limits.min_body_rate
        left = self._body_t0 + allowed - time.monotonic()
        if left > 0:
            self._body_timer = self.loop.call_later(left, self._body_check)
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            cycle.scope["dsct.timed_out"] = True  # the access line says timeout, not disconnect
            self._reject("request_timeout",
                         f"body not received within {allowed:.0f} s (DSCT_BODY_TIMEOUT, DSCT_MIN_BODY_RATE)")
        else:
            self.transport.close()

    # writing
    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self.limits.write_timeout, self._write_timeout)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _write_timeout(self) -> None:
        self._write_timer = None
        metrics.observe_connection("write_timeout")
        self.transport.abort()  # the client stopped reading: drop the buffered answer

    # shutdown
    def shutdown(self) -> None:
        """Graceful: the request in progress (or one arriving within :data:`DRAIN_GRACE`) is
        answered with ``Connection: close``; an idle connection is closed after the grace."""
        self._draining = True
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
        else:
            self.loop.call_later(DRAIN_GRACE, self._close_if_idle)

    def _close_if_idle(self) -> None:
        if self._idle() and not self.transport.is_closing():
            self.transport.close()


def protocol_class(settings: Settings) -> type[GuardedProtocol]:
    """A :class:`GuardedProtocol` subclass with the limits of ``settings``."""
    return type("DsctHttpProtocol", (GuardedProtocol,), {"limits": Limits.from_settings(settings)})


class GuardedServer(Server):
    """uvicorn's server, with a shutdown that answers what was already sent (module docs)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """uvicorn's, except that a stop signal is not raised again once the server has
        stopped: the process then exits normally, so its exit handlers run (multiprocessing's
        among them, which release the solver process's semaphores; killed by the re-raised
        signal, the process would leave them to the resource tracker, which warns)."""
        with super().capture_signals():
            yield
            self._captured_signals.clear()

    #: called (no arguments) when the shutdown begins; the start-up lock's release, say
    on_stop: Callable[[], None] | None = None

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.on_stop is not None:
            self.on_stop()
        self.server_state.draining = True  # type: ignore[attr-defined]
        loop = asyncio.get_running_loop()
        # keep each listening socket open (a duplicate) while the loop stops accepting, so
        # that connections already queued on it can be taken instead of reset
        held = []
        for server in self.servers:
            for s in server.sockets or ():
                held.append(socket.socket(fileno=os.dup(s.fileno())))
            server.close()
        for sock in sockets or []:
            sock.close()
        for conn in list(self.server_state.connections):
            conn.shutdown()
        # take what is queued now, without yielding to the loop (answered clients reconnect at
        # once: accepting while serving would go on for as long as they do), then close
        pending = []
        for sock in held:
            sock.setblocking(False)
            while True:
                try:
                    pending.append(sock.accept()[0])
                except OSError:
                    break
            sock.close()
        for conn_sock in pending:
            conn_sock.setblocking(False)
            try:
                await loop.connect_accepted_socket(self._protocol_factory, conn_sock)
            except OSError:
                conn_sock.close()
        await asyncio.sleep(0.1)
        try:
            await asyncio.wait_for(self._wait_tasks_to_complete(), timeout=self.config.timeout_graceful_shutdown)
        except TimeoutError:
            for t in self.server_state.tasks:
                t.cancel(msg="graceful shutdown timed out")
        if not self.force_exit:
            await self.lifespan.shutdown()

    def _protocol_factory(self) -> asyncio.Protocol:
        conn = self.config.http_protocol_class(config=self.config, server_state=self.server_state,  # type: ignore[call-arg]
                                               app_state=self.lifespan.state)
        return conn
