"""A web process of `manage.py serve`: daphne, with five changes.

Twisted parses every POST form body into ``request.args`` before daphne sees the request (multipart with the
``email`` package, in pure Python, on the event loop), and daphne never reads ``request.args``: it hands the
raw body to Django, which parses it again in a page thread. For a 1.7 MB upload that was 70 ms of the event
loop that also feeds every websocket of the process, and a second copy of the file in memory. Twisted lets
a request skip it (``parsePOSTFormSubmission``); daphne's request does not ask, so this one does.

Daphne then hands the body to the application 8 KB at a time, each piece a turn of the event loop, and
Django writes each piece past 2.5 MB to disk through a hop to a thread: 200 turns for a 1.7 MB upload,
5,000 turns and hops for a four-minute WAV. Here a piece is REQUEST_CHUNK.

And the event loop gets the GIL back sooner. Pages run in threads (soundforge/asgi.py); while one computes
(a page renders, a stem's waveform is drawn), the loop thread, which drops the GIL at every socket write,
waits up to the switch interval to get it back each time: at Python's 5 ms, a progress event's hundred
websocket writes took seconds. At SWITCH_INTERVAL_S the loop waits a fifth as long per write.

And the access log never holds a share link's token (``/s/<token>/`` is written ``/s/[token]/``): a token in
a log is a key to the track for whoever reads the log.

And a response's body is taken from the application only as fast as the client reads it. Daphne writes
every piece the application sends straight into Twisted, which buffers without limit: a stem or a mix sent
to a slow (or stalled) listener sat whole in the web process's memory. Here the request registers itself
with Twisted as a producer of the connection, and the application's ``send`` of a body piece waits while
Twisted says the connection's buffer is full (``pauseProducing`` until ``resumeProducing``).

And a request body is refused before it is read. Twisted reads a whole body (into memory or a temporary
file) before daphne hands any of it to Django: a 64 MB POST to /login/ was read to its end before its 403,
and a body that stops arriving held its connection for Twisted's twelve hours. Here a request whose declared
length (or, chunked, whose running length) passes its limit is answered 413 the moment that is known, and
the connection closed once the client has stopped sending: the upload limit (SOUNDFORGE_MAX_UPLOAD_MB and room
for the form around the file) for a request that carries a session cookie or an API token, ANONYMOUS_BODY_BYTES
for one that carries neither (log-in and sign-up forms are small; a forged cookie or token buys no more than a
signed-in person may send). What the client still sends after the answer is read and thrown away, for up to
LINGER_S (LINGER_IDLE_S once it pauses), before the connection closes: closed at once, the kernel would answer
the unread bytes with a reset that destroys the 413 before the client reads it (curl saw a broken pipe;
nginx's "lingering close" does the same). A body that stops arriving for SOUNDFORGE_BODY_IDLE_S is answered
408 and its connection closed.

    python -m soundforge.runtime.web --fd N soundforge.asgi:application   (daphne's own arguments)
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from daphne import cli, http_protocol
from daphne.access import AccessLogGenerator
from daphne.cli import CommandLineInterface
from daphne.server import Server
from django.conf import settings
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from soundforge.logs import redact

REQUEST_CHUNK = 1 << 20
FORM_SLACK_BYTES = 1 << 20  # the multipart form around an uploaded file, generously
ANONYMOUS_BODY_BYTES = 64 << 10
LINGER_S, LINGER_IDLE_S = 30.0, 5.0

logger = logging.getLogger(__name__)


@implementer(IPushProducer)
class _Writable:
    """What Twisted pauses and resumes while a response is sent: ``wait()`` returns once the connection can
    take more (at once unless paused). A lost connection resumes it for good: the writes go nowhere, and
    daphne then tells the application that the client is gone."""

    def __init__(self) -> None:
        self.paused: asyncio.Future[None] | None = None
        self.stopped = False

    def pauseProducing(self) -> None:
        if self.paused is None and not self.stopped:
            self.paused = asyncio.get_running_loop().create_future()

    def resumeProducing(self) -> None:
        paused, self.paused = self.paused, None
        if paused is not None and not paused.done():
            paused.set_result(None)

    def stopProducing(self) -> None:
        self.stopped = True
        self.resumeProducing()

    async def wait(self) -> None:
        if self.paused is not None:
            await asyncio.shield(self.paused)


def body_limit(cookies: dict[bytes, bytes], authorization: bytes | None = None) -> int:
    """The most a request may send: the upload limit with a session cookie or an API token (``Bearer``), a
    form's worth without."""
    if settings.SESSION_COOKIE_NAME.encode() in cookies or (authorization or b"").startswith(b"Bearer "):
        return settings.MAX_UPLOAD_MB * (1 << 20) + FORM_SLACK_BYTES
    return ANONYMOUS_BODY_BYTES


def too_large(limit: int) -> str:
    size = f"{limit / (1 << 20):.0f} MB" if limit >= 1 << 20 else f"{limit >> 10} KB"
    return f"The request is larger than the limit of {size}."


class WebRequest(http_protocol.WebRequest):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parsePOSTFormSubmission = False
        self.writable = _Writable()
        self._limit = 0
        self._received = 0
        self._idle: Any = None
        self._linger: Any = None
        self._refused = False

    # -- the body: refused past its limit, timed out when it stops -----------------------------------------

    def gotLength(self, length: int | None) -> None:
        """The headers are in (and the cookies parsed): refuse a declared length past the limit at once."""
        self._limit = body_limit(self.received_cookies, self.getHeader(b"authorization"))
        if length is not None and length > self._limit:
            # Twisted would answer "100 Continue" next and invite the body this refuses.
            self.requestHeaders.removeHeader(b"expect")
            self._refuse(413, too_large(self._limit))
            return
        super().gotLength(length)
        if length != 0:
            from twisted.internet import reactor  # daphne's, installed when it starts

            self._idle = reactor.callLater(settings.BODY_IDLE_S, self._stalled)

    def handleContentChunk(self, data: bytes) -> None:
        if self._refused:  # lingering: thrown away
            if self._idle is not None and self._idle.active():
                self._idle.reset(LINGER_IDLE_S)
            return
        self._received += len(data)
        if self._received > self._limit:  # a chunked body (it declared no length) grew past its limit
            self._refuse(413, too_large(self._limit))
            return
        if self._idle is not None and self._idle.active():
            self._idle.reset(settings.BODY_IDLE_S)
        super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        self._stop_timer()
        if self._refused:  # the refused body has all come: the answer went out before it
            self._close()
        else:
            super().requestReceived(command, path, version)

    def _stalled(self) -> None:
        self._idle = None
        self._refuse(408, f"The request's body stopped arriving for {settings.BODY_IDLE_S} s.")

    def _stop_timer(self) -> None:
        if self._idle is not None and self._idle.active():
            self._idle.cancel()
        self._idle = None

    def _refuse(self, status: int, message: str) -> None:
        """Answer now, in plain text, then linger: what the client is still sending is read and thrown away
        (never handed on) until it stops, for LINGER_S at most, and the connection closed."""
        self._refused = True
        self._stop_timer()
        body = message.encode()
        reason = {408: b"Request Timeout", 413: b"Content Too Large"}[status]
        logger.info("refused a request's body from %s: %s", self.getClientAddress(), message)
        if self.channel is None:
            return
        self.channel.transport.write(
            b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n%s" % (status, reason, len(body), body))
        if status == 408:  # the client stopped sending long ago
            self._close()
            return
        from twisted.internet import reactor

        self._idle = reactor.callLater(LINGER_IDLE_S, self._close)
        self._linger = reactor.callLater(LINGER_S, self._close)

    def _close(self) -> None:
        self._stop_timer()
        if self._linger is not None and self._linger.active():
            self._linger.cancel()
        self._linger = None
        if self.channel is not None:
            self.channel.loseConnection()

    def connectionLost(self, reason: Any) -> None:
        self._stop_timer()
        if self._linger is not None and self._linger.active():
            self._linger.cancel()
        self.writable.stopProducing()
        super().connectionLost(reason)

    def handle_reply(self, message: dict[str, Any]) -> None:
        if (message.get("type") == "http.response.body" and not message.get("more_body", False)
                and self.producer and self.channel is not None):
            self.unregisterProducer()  # before finishing, which insists on it
        super().handle_reply(message)
        if message.get("type") == "http.response.start" and not self.finished and self.channel is not None:
            self.registerProducer(self.writable, True)
            if getattr(self.channel, "_waitingForTransport", False):  # already full (Twisted tells only changes)
                self.writable.pauseProducing()


class WebServer(Server):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_buffer_size = REQUEST_CHUNK  # daphne's command line does not offer it

    async def handle_reply(self, protocol: Any, message: dict[str, Any]) -> None:
        await super().handle_reply(protocol, message)
        if isinstance(protocol, WebRequest) and message.get("more_body"):
            await protocol.writable.wait()


class AccessLog(AccessLogGenerator):
    """Daphne's access log, share-link tokens cut out of the paths it writes."""

    def write_entry(self, host: Any, date: Any, request: str, *args: Any, **kwargs: Any) -> None:
        super().write_entry(host, date, redact(request), *args, **kwargs)


SWITCH_INTERVAL_S = 0.001


def install() -> None:
    """Make daphne's HTTP factory build our requests (it reads the module's name for each connection) and its
    command line our server, and shorten the GIL's switch interval."""
    http_protocol.WebRequest = WebRequest
    CommandLineInterface.server_class = WebServer
    cli.AccessLogGenerator = AccessLog
    sys.setswitchinterval(SWITCH_INTERVAL_S)


if __name__ == "__main__":
    install()
    CommandLineInterface.entrypoint()
