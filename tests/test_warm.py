"""The warm analyzer (tracks/ports/host/warm.py) as a real server process, driven through the runner."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import audio
from tracks.ports.host import runner
from tracks.ports.host import warm as warm_client

WARM = runner.warm_server().command()
ANALYZER = runner.port("analyzer")


class Server:
    """One warm server for the module (its start-up is the slow part), with its log lines collected."""

    def __init__(self, proc: subprocess.Popen[str], socket_path: str) -> None:
        self.proc, self.socket = proc, socket_path
        self.log: list[dict] = []
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.append(json.loads(line))

    def wait_for(self, key: str, since: int = 0, timeout: float = 10.0, **match: object) -> dict:
        """The first log line from index ``since`` on that has ``key`` and the ``match`` values."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log[since:]:
                if key in line and all(line.get(k) == v for k, v in match.items()):
                    return line
            time.sleep(0.05)
        raise AssertionError(f"no {key} line matching {match} in {self.log[since:]}")


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory, port_env: dict[str, str]) -> Iterator[Server]:
    socket_path = str(tmp_path_factory.mktemp("warm") / "run" / "analyzer.sock")
    proc = subprocess.Popen([*WARM, "--socket", socket_path], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, **port_env})
    assert proc.stdout is not None
    assert json.loads(proc.stdout.readline())["ready"] == socket_path  # imported and warmed up
    yield Server(proc, socket_path)
    proc.terminate()
    assert proc.wait(timeout=10) == 0
    assert not os.path.exists(socket_path)  # it cleans up after itself


def analyse(path: Path, warm_socket: str | None, **kwargs) -> runner.PortResult:
    return runner.run_port(ANALYZER, [str(path), "--features", "tempo,key,chords"], timeout=kwargs.pop("timeout", 60),
                           warm_socket=warm_socket, **kwargs)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow
def test_a_warm_fork_gives_the_cold_answer_with_progress(warm: Server, c_major_wav: Path) -> None:
    stages: list[str] = []
    since = len(warm.log)
    hot = analyse(c_major_wav, warm.socket, on_progress=lambda p: stages.append(p.stage))
    forked = warm.wait_for("forked", since)
    assert forked["argv"][0] == str(c_major_wav)
    assert warm.wait_for("exited", since, exited=forked["forked"])["code"] == 0
    assert gone(forked["forked"])
    cold = analyse(c_major_wav, None)
    hot.data.pop("seconds"), cold.data.pop("seconds")
    assert hot.data == cold.data
    assert stages[0] == "decoding" and stages[-1] == "done"


def test_a_port_error_in_a_warm_child_is_the_ports_own(warm: Server, tmp_path: Path) -> None:
    with pytest.raises(runner.PortError) as caught:
        analyse(tmp_path / "missing.wav", warm.socket)
    assert (caught.value.kind, caught.value.message) == ("file_not_found", f"no such file: {tmp_path / 'missing.wav'}")


@pytest.mark.slow
def test_a_warm_child_that_overruns_is_killed_and_the_server_serves_on(warm: Server, c_major_wav: Path,
                                                                         tmp_path: Path) -> None:
    # Two minutes of audio: on a fast machine a warm fork analyses the 8 s song within the 0.2 s given.
    long_song = audio.write_wav(tmp_path / "long.wav", audio.song("C", "major", 120.0, 120.0))
    since = len(warm.log)
    with pytest.raises(runner.PortError) as caught:
        analyse(long_song, warm.socket, timeout=0.2)
    assert caught.value.kind == "timeout"
    forked = warm.wait_for("forked", since)["forked"]
    assert warm.wait_for("exited", since, exited=forked)["code"] < 0  # killed by a signal
    assert analyse(c_major_wav, warm.socket).data["key"]["key"] == "C"


def test_a_child_whose_caller_goes_away_is_killed(warm: Server, c_major_wav: Path) -> None:
    """A worker killed mid-job drops its connection; the server then kills the job's process group."""
    proc = warm_client.start(warm.socket, "analyzer", [str(c_major_wav), "--features", "all"], {})
    assert proc is not None and not gone(proc.pid)
    proc.conn.close()
    deadline = time.monotonic() + 5
    while not gone(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(proc.pid)


def test_garbage_gets_an_error_and_no_child(warm: Server, c_major_wav: Path) -> None:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(warm.socket)
    conn.sendall(b"this is not a request\n")
    assert "error" in json.loads(conn.recv(4096))
    conn.close()
    assert analyse(c_major_wav, warm.socket).data["tempo"] > 0


@pytest.mark.slow
def test_without_a_server_the_port_starts_cold(tmp_path: Path, c_major_wav: Path) -> None:
    stale = tmp_path / "analyzer.sock"
    stale.touch()  # a socket file left behind by a server that is gone
    assert analyse(c_major_wav, str(stale)).data["key"]["key"] == "C"
    assert analyse(c_major_wav, str(tmp_path / "never.sock")).data["key"]["key"] == "C"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_analysis_jobs_fork_from_the_warm_server(warm: Server, alice_client, c_major_wav: Path, run_worker,
                                                 settings) -> None:
    from tests.test_jobs import upload
    from tracks.files import storage
    from tracks.models import Job

    settings.ANALYZER_SOCKET = Path(warm.socket)
    since = len(warm.log)
    track = upload(alice_client, c_major_wav)
    run_worker("analysis")
    job = Job.objects.get(track=track)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert warm.wait_for("forked", since)["argv"][0] == str(storage.track_path(track))
    assert job.result.data["key"]["key"] == "C"
