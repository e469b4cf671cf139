"""`manage.py cleanup [--dry-run] [--older-than S]`: remove media that no row points at (storage.orphans)."""

from __future__ import annotations

import shutil

from django.conf import settings
from django.core.management.base import BaseCommand

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
