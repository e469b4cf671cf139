"""A web process of `manage.py serve`: daphne, with three changes.

Twisted parses every POST form body into ``request.args`` before daphne sees the request (multipart with the
``email`` package, in pure Python, on the event loop), and daphne never reads ``request.args``: it hands the
raw body to Django, which parses it again in a page thread. For a 1.7 MB upload that was 70 ms of the event
loop that also feeds every websocket of the process, and a second copy of the file in memory. Twisted lets
a request skip it (``parsePOSTFormSubmission``); daphne's request does not ask, so this one does.

Daphne then hands the body to the application 8 KB at a time, each piece a turn of the event loop, and
Django writes each piece past 2.5 MB to disk through a hop to a thread: 200 turns for a 1.7 MB upload,
5,000 turns and hops for a four-minute WAV. Here a piece is REQUEST_CHUNK.

And the event loop gets the GIL back sooner. Pages run in threads (soundforge/asgi.py); while one computes
(an upload's probe decodes the whole file), the loop thread, which drops the GIL at every socket write,
waits up to the switch interval to get it back each time: at Python's 5 ms, a progress event's hundred
websocket writes took seconds. At SWITCH_INTERVAL_S the loop waits a fifth as long per write.

    python -m soundforge.web --fd N soundforge.asgi:application   (daphne's own arguments)
"""

from __future__ import annotations

import sys
from typing import Any

from daphne import http_protocol
from daphne.cli import CommandLineInterface

REQUEST_CHUNK = 1 << 20


class WebRequest(http_protocol.WebRequest):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parsePOSTFormSubmission = False
        self.server.request_buffer_size = REQUEST_CHUNK  # daphne's command line does not offer it


SWITCH_INTERVAL_S = 0.001


def install() -> None:
    """Make daphne's HTTP factory build our requests (it reads the module's name for each connection), and
    shorten the GIL's switch interval."""
    http_protocol.WebRequest = WebRequest
    sys.setswitchinterval(SWITCH_INTERVAL_S)


if __name__ == "__main__":
    install()
    CommandLineInterface.entrypoint()
