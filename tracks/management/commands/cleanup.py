"""`manage.py cleanup [--dry-run] [--older-than S]`: remove media that no row points at (storage.orphans), and
the API's resumable uploads (tus) begun a day ago: their bytes if unfinished, their rows."""

from __future__ import annotations

import shutil

from django.conf import settings
from django.core.management.base import BaseCommand

from tracks.api import uploads
from tracks.files import storage


class Command(BaseCommand):
    help = "Remove track and stem folders that no database row points at."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="only list what would go")
        parser.add_argument("--older-than", type=float, default=storage.ORPHAN_GRACE_S,
                            help="leave anything changed more recently than this many seconds")

    def handle(self, *args, **options) -> None:
        found = storage.orphans(options["older_than"])
        for path in found:
            self.stdout.write(f"{'would remove' if options['dry_run'] else 'removing'} {path}")
            if not options["dry_run"]:
                shutil.rmtree(path, ignore_errors=True)
        self.stdout.write(f"{len(found)} orphan folder(s) under {settings.MEDIA_ROOT}")
        stale = uploads.abandoned()
        for upload in stale:
            self.stdout.write(f"{'would remove' if options['dry_run'] else 'removing'} the resumable upload "
                              f"{upload.filename} ({upload.offset} of {upload.length} bytes)")
            if not options["dry_run"]:
                uploads.part(upload).unlink(missing_ok=True)
                upload.delete()
        self.stdout.write(f"{len(stale)} resumable upload(s) a day old")
