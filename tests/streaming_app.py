"""A bare ASGI app for tests/test_web.py, served by soundforge.web's daphne: ``/stream`` sends PIECES pieces
of PIECE bytes; ``/sent`` says how many bytes of that stream the server has taken so far."""

from __future__ import annotations

from typing import Any

PIECE = 256 * 1024
PIECES = 256
sent = 0


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global sent
    if scope["type"] != "http":
        return
    if scope["path"] == "/sent":
        body = str(sent).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(PIECE * PIECES).encode())]})
    for i in range(PIECES):
        await send({"type": "http.response.body", "body": bytes([i % 256]) * PIECE, "more_body": i < PIECES - 1})
        sent += PIECE
