"""Resumable uploads: the tus 1.0 protocol (core, creation, termination), so tus-js-client, tuspy and
Uppy upload large files through interruptions. ``POST /uploads`` (``Upload-Length``, ``Upload-Metadata:
filename <base64>``) makes one and answers its ``Location``; ``PATCH`` appends at ``Upload-Offset``; ``HEAD``
says how much has arrived. Once the last byte is in, the file is stored as a track exactly as a page's upload
is (views/library.store_upload: probe, quota, rate) and ``GET`` names it. The bytes wait in
SOUNDFORGE_VAR_DIR/resumable/ (a web process's machine; `manage.py cleanup` removes what is a day old)."""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Router, Schema

from .. import limits
from ..files import uploads as checks
from ..models import Upload
from ..views import library
from ..views.common import Refused
from .auth import signed_in, writer
from .problems import Problem
from .schemas import track_out, url

router = Router(tags=["uploads"])
VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination"
OCTETS = "application/offset+octet-stream"
CHUNK = 1 << 20


def folder() -> Path:
    path = Path(settings.VAR_DIR) / "resumable"
    path.mkdir(parents=True, exist_ok=True)
    return path


def part(upload: Upload) -> Path:
    return folder() / f"{upload.uuid}.part"


ABANDONED_AFTER = timedelta(days=1)


def abandoned() -> list[Upload]:
    """Uploads begun a day ago: their bytes if never finished, and the row that said what became of them
    (`manage.py cleanup` removes both)."""
    return list(Upload.objects.filter(created__lt=timezone.now() - ABANDONED_AFTER))


def _headers(**more: Any) -> dict[str, str]:
    return {"Tus-Resumable": VERSION, "Cache-Control": "no-store", **{k.replace("_", "-"): str(v)
                                                                        for k, v in more.items()}}


def _tus(request: HttpRequest) -> None:
    if request.headers.get("Tus-Resumable") != VERSION:
        raise Problem(412, f"Tus-Resumable: {VERSION} is the version spoken here.",
                      headers={"Tus-Version": VERSION})


def _number(request: HttpRequest, header: str) -> int:
    try:
        value = int(request.headers.get(header, ""))
    except ValueError:
        raise Problem(400, f"{header}: a whole number of bytes.") from None
    if value < 0:
        raise Problem(400, f"{header}: a whole number of bytes.")
    return value


def _filename(metadata: str) -> str:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs; the file's name is ``filename`` (or
    ``name``, as Uppy sends it)."""
    found = {}
    for pair in filter(None, (p.strip() for p in metadata.split(","))):
        key, _, value = pair.partition(" ")
        try:
            found[key] = base64.b64decode(value, validate=True).decode("utf-8") if value else ""
        except (binascii.Error, UnicodeDecodeError):
            raise Problem(400, f"Upload-Metadata: {key}'s value is not base64 UTF-8.") from None
    return (found.get("filename") or found.get("name") or "upload")[:255]


def _mine(request: HttpRequest, upload: UUID) -> Upload:
    return get_object_or_404(Upload, uuid=upload, user=signed_in(request))


@router.api_operation(["OPTIONS"], "/uploads", auth=None, response={204: None}, url_name="uploads")
def capabilities(request: HttpRequest) -> HttpResponse:
    """What tus this server speaks, and the largest file it takes."""
    return HttpResponse(status=204, headers=_headers(Tus_Version=VERSION, Tus_Extension=EXTENSIONS,
                                                     Tus_Max_Size=checks.max_upload_bytes()))


@router.post("/uploads", response={201: None}, url_name="upload_create")
def create(request: HttpRequest) -> HttpResponse:
    """A new upload of ``Upload-Length`` bytes (refused at once past the size limit or the quota); a body of
    ``application/offset+octet-stream`` is its first bytes."""
    writer(request)
    user = signed_in(request)
    _tus(request)
    length = _number(request, "Upload-Length")
    if length > checks.max_upload_bytes():
        raise Problem(413, checks.too_large_message())
    if length == 0:
        raise Problem(400, "The file is empty.")
    try:
        limits.reserve(user, length, "this file")
    except limits.QuotaFull as exc:
        raise Problem(413, str(exc)) from None
    upload = Upload.objects.create(user=user, length=length, filename=_filename(request.headers.get(
        "Upload-Metadata", "")))
    part(upload).touch()
    headers = _headers(Location=url(request, "upload", upload.uuid), Upload_Offset=0)
    if request.content_type == OCTETS and request.headers.get("Content-Length", "0") != "0":
        headers["Upload-Offset"] = str(_append(request, upload))
    return HttpResponse(status=201, headers=headers)


@router.api_operation(["HEAD"], "/uploads/{upload}", response={200: None}, url_name="upload_offset")
def offset(request: HttpRequest, upload: UUID) -> HttpResponse:
    """How many bytes have arrived: resume from ``Upload-Offset``."""
    found = _mine(request, upload)
    return HttpResponse(status=200, headers=_headers(Upload_Offset=found.offset, Upload_Length=found.length))


class UploadOut(Schema):
    offset: int
    length: int
    filename: str
    complete: bool
    track: dict[str, Any] | None  # the track it became (tracks/{uuid}), once complete
    error: str  # why the finished file was refused


@router.get("/uploads/{upload}", response=UploadOut, url_name="upload")
def status(request: HttpRequest, upload: UUID) -> dict[str, Any]:
    """Where an upload stands, and the track it became."""
    found = _mine(request, upload)
    return {"offset": found.offset, "length": found.length, "filename": found.filename,
            "complete": found.offset == found.length, "error": found.error,
            "track": track_out(request, found.track) if found.track else None}


@router.patch("/uploads/{upload}", response={204: None}, url_name="upload_append")
def append(request: HttpRequest, upload: UUID) -> HttpResponse:
    """The next bytes (``Content-Type: application/offset+octet-stream``) at ``Upload-Offset``, which must be
    the offset so far (409 otherwise). The last ones store the track (the answer's ``SoundForge-Track``)."""
    writer(request)
    _tus(request)
    found = _mine(request, upload)
    if request.content_type != OCTETS:
        raise Problem(415, f"Content-Type: {OCTETS}.")
    headers = _headers(Upload_Offset=_append(request, found))
    found.refresh_from_db()
    if found.track_id:
        headers["SoundForge-Track"] = url(request, "track", found.track.uuid)
    return HttpResponse(status=204, headers=headers)


@router.delete("/uploads/{upload}", response={204: None}, url_name="upload_delete")
def terminate(request: HttpRequest, upload: UUID) -> HttpResponse:
    """Give an unfinished upload up: its bytes go."""
    writer(request)
    found = _mine(request, upload)
    part(found).unlink(missing_ok=True)
    found.delete()
    return HttpResponse(status=204, headers=_headers())


def _append(request: HttpRequest, upload: Upload) -> int:
    """Write the body at the upload's offset (locked: two PATCHes of one upload are taken one at a time);
    past the declared length is refused; the last byte stores the track."""
    at = _number(request, "Upload-Offset") if "Upload-Offset" in request.headers else 0
    with transaction.atomic():
        upload = Upload.objects.select_for_update().get(pk=upload.pk)
        if upload.error or upload.track_id:  # answered as when it ended (a client's retry asks again)
            raise Refused(409 if upload.track_id else 400, upload.error or "This upload is complete.",
                          upload.track if upload.error else None)
        if at != upload.offset:
            raise Problem(409, f"Upload-Offset is {upload.offset} here, not {at}: resume from there (HEAD).")
        path, written = part(upload), 0
        with open(path, "r+b" if path.exists() else "wb") as out:
            out.seek(upload.offset)
            # The web server has the whole body before this runs (a PATCH cut short never gets here: the
            # client asks HEAD where it stands and sends that piece again).
            while piece := request.read(CHUNK):
                if upload.offset + written + len(piece) > upload.length:
                    raise Problem(413, f"This upload was declared {upload.length} bytes long.")
                out.write(piece)
                written += len(piece)
        upload.offset += written
        upload.save(update_fields=["offset"])
    if upload.offset == upload.length:
        _finish(request, upload)
    return upload.offset


def _finish(request: HttpRequest, upload: Upload) -> None:
    """The whole file is in: store it as any upload is stored, or keep why not (the bytes go either way)."""
    path = part(upload)
    try:
        with open(path, "rb") as handle:
            track = library.store_upload(request, {"file": UploadedFile(handle, name=upload.filename,
                                                                        size=upload.length)})
    except Refused as refused:  # answered as problem JSON (app.py), and kept for GET and a retry
        upload.error = str(refused)
        upload.track = refused.track  # a file the person has already: that track is what it became
        upload.save(update_fields=["error", "track"])
        raise
    finally:
        path.unlink(missing_ok=True)
    upload.track = track
    upload.save(update_fields=["track"])
