"""`manage.py models list` and `manage.py models fetch NAME... [--url URL]`: the separation models and where
each would load from, and filling SOUNDFORGE_MODELS_DIR with a model's weights (checksums verified) on a
machine with internet, to copy to an offline server. Both run a port (tracks/ports/), as the workers do."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tracks import jobs
from tracks.ports.host import runner

FETCH_TIMEOUT_S = 3600


class Command(BaseCommand):
    help = "List the separation models and where each loads from, or fetch models into SOUNDFORGE_MODELS_DIR."

    def add_arguments(self, parser) -> None:
        commands = parser.add_subparsers(dest="command", required=True)
        commands.add_parser("list", help="every model: can it load here now, from where, and if not why")
        fetch = commands.add_parser("fetch", help="download models into SOUNDFORGE_MODELS_DIR, checksums verified")
        fetch.add_argument("names", nargs="+", metavar="NAME")
        fetch.add_argument("--url", help="a repository of demucs weights (default: demucs's own)")

    def handle(self, *args, **options) -> None:
        if options["command"] == "list":
            for model in jobs.check_models():
                where = model["source"] if model["available"] else f"unavailable: {model['reason']}"
                self.stdout.write(f"{model['name']:<12} {where}")
            return
        if not settings.MODELS_DIR:
            raise CommandError("Set SOUNDFORGE_MODELS_DIR to the folder to fill.")
        arguments = ["fetch", *options["names"], "--models-dir", settings.MODELS_DIR]
        if options["url"]:
            arguments += ["--url", options["url"]]

        def said(line: runner.Progress) -> None:
            total = line.extra.get("total") or 0
            done = line.extra.get("bytes") or 0
            self.stderr.write(f"{line.stage}: {done / 2**20:.0f} of {total / 2**20:.0f} MB" if total else line.stage)

        try:
            result = runner.run_port(runner.port("demucs_repo"), arguments, timeout=FETCH_TIMEOUT_S,
                                     on_progress=said, python=settings.PORT_PYTHON or None, env=jobs.port_env())
        except runner.PortError as exc:
            raise CommandError(f"{exc.kind}: {exc.message}") from None
        for name, files in result.data["fetched"].items():
            self.stdout.write(f"{name}: {', '.join(files)} in {Path(settings.MODELS_DIR)}")
        jobs.check_models()
