"""A bare ASGI app for tests/test_web.py, served by soundforge.runtime.web's daphne: ``/stream`` sends PIECES pieces
of PIECE bytes; ``/sent`` says how many bytes of that stream the server has taken so far; ``/pieces`` how
many pieces the server handed a request's body over in."""

from __future__ import annotations

from typing import Any

PIECE = 256 * 1024
PIECES = 256
sent = 0


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global sent
    if scope["type"] != "http":
        return
    if scope["path"] in ("/sent", "/pieces"):
        pieces = 0
        while True:
            message = await receive()
            pieces += 1
            if not message.get("more_body"):
                break
        body = str(sent if scope["path"] == "/sent" else pieces).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(PIECE * PIECES).encode())]})
    for i in range(PIECES):
        await send({"type": "http.response.body", "body": bytes([i % 256]) * PIECE, "more_body": i < PIECES - 1})
        sent += PIECE
