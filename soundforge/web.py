"""A web process of `manage.py serve`: daphne, with one change.

Twisted parses every POST form body into ``request.args`` before daphne sees the request (multipart with the
``email`` package, in pure Python, on the event loop), and daphne never reads ``request.args``: it hands the
raw body to Django, which parses it again in a page thread. For a 1.7 MB upload that was 70 ms of the event
loop that also feeds every websocket of the process, and a second copy of the file in memory. Twisted lets
a request skip it (``parsePOSTFormSubmission``); daphne's request does not ask, so this one does.

    python -m soundforge.web --fd N soundforge.asgi:application   (daphne's own arguments)
"""

from __future__ import annotations

from typing import Any

from daphne import http_protocol
from daphne.cli import CommandLineInterface


class WebRequest(http_protocol.WebRequest):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parsePOSTFormSubmission = False


def install() -> None:
    """Make daphne's HTTP factory build our requests (it reads the module's name for each connection)."""
    http_protocol.WebRequest = WebRequest


if __name__ == "__main__":
    install()
    CommandLineInterface.entrypoint()
