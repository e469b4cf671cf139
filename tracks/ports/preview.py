"""The preview port: a compressed copy of an audio file for listening (ADR-002's protocol).

    python -m tracks.ports.preview FILE --output OUT.mp3

Prints ``{"path": OUT, "bytes": n, "duration": seconds}`` and exits 0, or the error object and a non-zero
exit. A listen-only share link plays this instead of the original (tracks/views/files.py); a separation's stems get
theirs from the separation port itself. MP3 at audio_stream.PREVIEW_KBPS, written a block at a time.
Imports no Django.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from .contract import ErrorKind
from .lib.audio_stream import PreviewWriter, frames, header
from .port_protocol import Parser, PortFailure, progress, r, run

PROGRESS_S = 0.5


def main(argv: list[str]) -> dict[str, Any]:
    parser = Parser(prog="python -m tracks.ports.preview")
    parser.add_argument("audio_path")
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    if not os.path.isfile(args.audio_path):
        raise PortFailure(ErrorKind.FILE_NOT_FOUND, f"no such file: {args.audio_path}")
    # One decoding pass: the header tells the rate, and the length that progress is measured against.
    rate, declared = header(args.audio_path)
    progress(0.0, "making a preview")
    writer = PreviewWriter(args.output, rate)
    done, said = 0, time.monotonic()
    try:
        for block in frames(args.audio_path):
            writer.write(block)
            done += block.shape[1]
            if time.monotonic() - said >= PROGRESS_S:
                said = time.monotonic()
                progress(min(1.0, done / (declared * rate)) if declared else 0.0, "making a preview")
        if not done:
            raise PortFailure(ErrorKind.DECODE_ERROR, "the file holds no decodable audio")
        writer.close()
    except BaseException:
        if os.path.exists(args.output):
            os.remove(args.output)
        raise
    return {"path": args.output, "bytes": os.path.getsize(args.output), "duration": r(done / rate, 3)}


if __name__ == "__main__":
    sys.exit(run(main, sys.argv[1:], ErrorKind.PREVIEW_FAILED))
