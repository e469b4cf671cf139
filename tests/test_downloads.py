"""Serving files (tracks/files/downloads.py): the single byte ranges players seek with, what is refused, and
attachments, on a file of known bytes (no upload, no track: the response alone)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracks.files.downloads import file_response

DATA = bytes(range(256)) * 40  # 10240 bytes, each offset's byte known


@pytest.fixture
def path(tmp_path: Path) -> Path:
    target = tmp_path / "song.wav"
    target.write_bytes(DATA)
    return target


def body(response: object) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=100-199", 100, 199),
        ("bytes=10000-", 10000, 10239),  # open-ended: to the last byte
        ("bytes=-10", 10230, 10239),  # the last ten bytes
        ("bytes=-99999", 0, 10239),  # more than the file: all of it
        ("bytes=10200-99999", 10200, 10239),  # an end past the file is cut to it
        (" bytes=5-9 ", 5, 9),
    ],
)
def test_a_single_range_comes_back_as_206_with_exactly_those_bytes(path: Path, header: str, start: int,
                                                                   end: int) -> None:
    response = file_response(path, "audio/wav", "song.wav", header)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert response["Content-Length"] == str(end - start + 1)
    assert response["Accept-Ranges"] == "bytes"
    assert body(response) == DATA[start:end + 1]


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=20000-30000", "bytes=50-10"])
def test_a_range_that_cannot_be_satisfied_is_416_with_the_size(path: Path, header: str) -> None:
    response = file_response(path, "audio/wav", "song.wav", header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(DATA)}"


@pytest.mark.parametrize("header", ["", "bytes=-", "bytes=0-1,5-6", "items=0-10", "bytes=a-b", "0-10"])
def test_no_range_or_one_we_do_not_serve_gets_the_whole_file(path: Path, header: str) -> None:
    response = file_response(path, "audio/wav", "song.wav", header)
    assert response.status_code == 200
    assert response["Accept-Ranges"] == "bytes"
    assert body(response) == DATA


def test_an_attachment_is_the_whole_file_under_its_name_whatever_the_range(path: Path) -> None:
    response = file_response(path, None, "My Song: take 2.wav", "bytes=0-9", as_attachment=True)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert body(response) == DATA


@pytest.mark.parametrize("mode", ["x-sendfile", "x-accel-redirect"])
def test_behind_a_front_server_only_a_header_goes_out(path: Path, settings, mode: str) -> None:
    settings.SENDFILE = mode
    settings.MEDIA_ROOT = path.parent
    settings.SENDFILE_PREFIX = "/protected/"
    response = file_response(path, "audio/wav", "song.wav", "bytes=0-9", as_attachment=True)
    assert response.content == b""
    if mode == "x-sendfile":
        assert response["X-Sendfile"] == str(path.resolve())
    else:
        assert response["X-Accel-Redirect"] == "/protected/song.wav"
    assert 'filename="song.wav"' in response["Content-Disposition"]
