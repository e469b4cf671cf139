"""`manage.py serve`: Redis (embedded if none answers), daphne, the RQ workers, the warm analyzer and job
recovery under one supervisor.

Ctrl-C (or SIGTERM) stops everything: children run in their own sessions so the terminal's signal reaches
only this process, which then stops them in order and waits for them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tracks import jobs
from tracks.ports import runner
from tracks.services import EmbeddedRedis, redis_answers

STOP_GRACE_S = 8.0


class Command(BaseCommand):
    help = "Run the web server and the RQ workers (and an embedded Redis when REDIS_URL does not answer)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("SOUNDFORGE_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("SOUNDFORGE_PORT", "8000")))
        parser.add_argument("--analysis-workers", type=int, default=settings.ANALYSIS_WORKERS)
        parser.add_argument("--processing-workers", type=int, default=settings.PROCESSING_WORKERS)
        parser.add_argument("--web-processes", type=int, default=settings.WEB_PROCESSES)

    def handle(self, *args, **options) -> None:
        # One listening socket, opened first (a port in use stops us before anything starts) and shared by
        # every web process: the kernel hands each new connection to one of them, so pages and sockets spread
        # over the cores.
        try:
            listener = socket.create_server((options["host"], options["port"]), backlog=1024)
        except OSError as exc:
            raise CommandError(f"cannot listen on {options['host']}:{options['port']}: {exc.strerror}") from exc
        listener.set_inheritable(True)
        embedded = None
        url = os.environ.get("REDIS_URL")
        if url and redis_answers(url):
            self.stdout.write(f"Using Redis at {url}")
        else:
            if url:
                self.stderr.write(f"REDIS_URL {url} does not answer; starting an embedded Redis instead")
            embedded = EmbeddedRedis(settings.VAR_DIR / "redis", persist=True)
            url = embedded.start()
            self.stdout.write(f"Started embedded Redis at {url} (data in {settings.VAR_DIR / 'redis'})")
        env = {**os.environ, "REDIS_URL": url, "DJANGO_SETTINGS_MODULE": "soundforge.settings"}
        manage = str(settings.BASE_DIR / "manage.py")
        web_processes = max(1, options["web_processes"])
        specs = {f"web-{i}": [sys.executable, "-m", "soundforge.web", "--fd", str(listener.fileno()),
                              "soundforge.asgi:application"]
                 for i in range(1, web_processes + 1)}
        if settings.WARM_ANALYZER:
            specs["warm-analyzer"] = [settings.PORT_PYTHON or sys.executable, str(runner.port_path("warm")),
                                      "--socket", str(settings.ANALYZER_SOCKET), "--port", "analyzer"]
        # Job recovery at start-up and every little while, in its own process (with this REDIS_URL).
        specs["recovery"] = [sys.executable, manage, "recover", "--every", str(settings.RECOVER_EVERY_S)]
        for queue, count in (("analysis", options["analysis_workers"]), ("processing", options["processing_workers"])):
            for i in range(1, count + 1):
                specs[f"{queue}-worker-{i}"] = [sys.executable, manage, "rqworker", queue]

        stopping = False

        def request_stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

        def start(name: str) -> subprocess.Popen[bytes]:
            warm = name == "warm-analyzer"
            extra = jobs.port_env() if warm else {}
            # The warm server forks the analyses: niced as a whole, as cold-started ports are one by one.
            niced = (lambda: os.nice(settings.PORT_NICE)) if warm and settings.PORT_NICE else None
            shared = (listener.fileno(),) if name.startswith("web-") else ()
            return subprocess.Popen(specs[name], env={**env, **extra}, cwd=settings.BASE_DIR, start_new_session=True,
                                    preexec_fn=niced, pass_fds=shared)

        children = {name: start(name) for name in specs}
        self.stdout.write(self.style.SUCCESS(
            f"SoundForge is running at http://{options['host']}:{options['port']}/ "
            f"({web_processes} web processes, {options['analysis_workers']} "
            f"analysis and {options['processing_workers']} processing workers). "
            "Press Ctrl-C to stop."
        ))
        exit_code = 0
        try:
            while not stopping:
                time.sleep(0.5)
                for name, proc in list(children.items()):
                    if proc.poll() is None:
                        continue
                    if name.startswith("web-"):
                        self.stderr.write(f"{name} exited with status {proc.returncode}; stopping")
                        exit_code = 1
                        stopping = True
                        break
                    self.stderr.write(f"{name} exited with status {proc.returncode}; restarting it")
                    children[name] = start(name)
        finally:
            self.stdout.write("Stopping…")
            for proc in children.values():
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_S
            for proc in children.values():
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            listener.close()
            if embedded:
                embedded.stop()
            self.stdout.write("Stopped.")
        if exit_code:
            sys.exit(exit_code)
