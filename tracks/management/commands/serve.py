"""`manage.py serve`: Redis (embedded if none answers), daphne, the RQ workers, the warm analyzer and job
recovery under one supervisor.

Ctrl-C (or SIGTERM) stops everything: children run in their own sessions so the terminal's signal reaches
only this process, which then stops their process groups and waits for them (tracks/ports/host/processes.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tracks import jobs
from tracks.dev_redis import EmbeddedRedis, redis_answers
from tracks.ports import contract
from tracks.ports.host import processes, runner

STOP_GRACE_S = 8.0
CHECK_EVERY_S = 0.5


class Supervisor:
    """Named commands run as children and kept running: one that exits is started again, except a web
    process, whose exit stops everything (a web process dying is a bug to see, not to hide)."""

    def __init__(self, specs: dict[str, list[str]], env: dict[str, str], listener: socket.socket,
                 log: Any) -> None:
        self.specs, self.env, self.listener, self.log = specs, env, listener, log
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> subprocess.Popen[bytes]:
        warm = name == "warm-analyzer"
        extra = jobs.port_env() if warm else {}
        command = self.specs[name]
        if warm and settings.PORT_NICE:
            # The warm server forks the analyses: niced as a whole, as cold-started ports are one by one.
            command = runner.spawned(command, die_with_parent=False, nice=settings.PORT_NICE)
        shared = (self.listener.fileno(),) if name.startswith("web-") else ()
        self.children[name] = subprocess.Popen(command, env={**self.env, **extra}, cwd=settings.BASE_DIR,
                                               start_new_session=True, pass_fds=shared)
        return self.children[name]

    def start_all(self) -> None:
        for name in self.specs:
            self.start(name)

    def watch(self, stop: processes.StopFlag) -> int:
        """Keep the children running until told to stop (0), or until a web process exits (1)."""
        while not stop.sleep(CHECK_EVERY_S):
            for name, proc in list(self.children.items()):
                if proc.poll() is None:
                    continue
                if name.startswith("web-"):
                    self.log(f"{name} exited with status {proc.returncode}; stopping")
                    return 1
                self.log(f"{name} exited with status {proc.returncode}; restarting it")
                self.start(name)
        return 0

    def stop(self) -> None:
        processes.stop_groups(self.children.values(), STOP_GRACE_S)

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
        specs = {f"web-{i}": [sys.executable, "-m", "soundforge.runtime.web", "--fd", str(listener.fileno()),
                              "soundforge.asgi:application"]
                 for i in range(1, web_processes + 1)}
        if settings.WARM_ANALYZER:
            specs["warm-analyzer"] = [*runner.warm_server().command(settings.PORT_PYTHON),
                                      "--socket", str(settings.ANALYZER_SOCKET), "--port", "analyzer"]
        # Job recovery at start-up and every little while, in its own process (with this REDIS_URL).
        specs["recovery"] = [sys.executable, manage, "recover", "--every", str(settings.RECOVER_EVERY_S)]
        workers = {contract.ANALYSIS_QUEUE: options["analysis_workers"],
                   contract.PROCESSING_QUEUE: options["processing_workers"]}
        for queue, count in workers.items():
            for i in range(1, count + 1):
                specs[f"{queue}-worker-{i}"] = [sys.executable, manage, "rqworker", queue]

        supervisor = Supervisor(specs, env, listener, self.stderr.write)
        stop = processes.StopFlag().install()
        exit_code = 0
        try:
            supervisor.start_all()
            self.stdout.write(self.style.SUCCESS(
                f"SoundForge is running at http://{options['host']}:{options['port']}/ "
                f"({web_processes} web processes, {options['analysis_workers']} "
                f"analysis and {options['processing_workers']} processing workers). "
                "Press Ctrl-C to stop."
            ))
            exit_code = supervisor.watch(stop)
        finally:
            self.stdout.write("Stopping…")
            supervisor.stop()
            listener.close()
            if embedded:
                embedded.stop()
            self.stdout.write("Stopped.")
        if exit_code:
            sys.exit(exit_code)
