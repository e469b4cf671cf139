"""ports/host/runner.py against real misbehaving scripts: hangs, crashes, garbage, floods."""

from __future__ import annotations

import itertools
import signal
import textwrap
import time
from pathlib import Path

import pytest

from tracks.ports.host.runner import PortError, Progress, run_port


def script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "port.py"
    path.write_text("import json, os, sys, time, signal\n" + textwrap.dedent(body))
    return path


def alive(pid: int) -> bool:
    """Running, not merely a zombie waiting for a reaper that this sandbox may not have."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_dead(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_it_returns_the_json_object(tmp_path: Path) -> None:
    port = script(tmp_path, 'print(json.dumps({"tempo": 120.5, "args": sys.argv[1:]}))')
    result = run_port(port, ["a b", "--x"], timeout=10)
    assert result.data == {"tempo": 120.5, "args": ["a b", "--x"]}
    assert result.seconds > 0


@pytest.mark.slow
def test_with_an_interval_a_burst_goes_out_at_once_then_the_newest_line_an_interval(tmp_path: Path) -> None:
    port = script(tmp_path, """
        def line(i):
            sys.stderr.write(json.dumps({"progress": i / 100, "stage": f"s{i}"}) + "\\n")
            sys.stderr.flush()
        for i in range(3):  # three quick stages
            line(i)
            time.sleep(0.005)
        time.sleep(0.4)
        for i in range(3, 63):  # then a line every 10 ms
            line(i)
            time.sleep(0.01)
        print(json.dumps({"ok": True}))
    """)
    stages: list[int] = []
    times: list[float] = []

    def seen(p: Progress) -> None:
        stages.append(int(p.stage[1:]))
        times.append(time.monotonic())

    run_port(port, [], timeout=30, progress_interval=0.1, on_progress=seen)
    assert stages[:3] == [0, 1, 2] and times[2] - times[0] < 0.1  # the burst went out at once, none held
    assert stages == sorted(stages) and stages[-1] == 62  # in order, and the last line is never lost
    steady = times[6:-1]  # after the second burst (the bucket refilled in the pause), before the last line
    assert len(steady) >= 3
    assert min(b - a for a, b in itertools.pairwise(steady)) >= 0.09  # one an interval
    assert len(stages) < 20  # of 63 lines


def test_it_reports_progress_lines_in_order_and_keeps_other_stderr(tmp_path: Path) -> None:
    port = script(tmp_path, """
        for i in range(5):
            sys.stderr.write(json.dumps({"progress": i / 4, "stage": f"step{i}", "eta": 4 - i}) + "\\n")
            sys.stderr.flush()
        sys.stderr.write("a plain warning line\\n")
        print(json.dumps({"ok": True}))
    """)
    seen: list[Progress] = []
    started = time.time()
    result = run_port(port, [], timeout=10, on_progress=seen.append)
    assert [p.fraction for p in seen] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert [p.stage for p in seen][-1] == "step4"
    assert seen[0].extra.pop("read_at") >= started  # when the runner read it (what the pages carry)
    assert seen[0].extra == {"eta": 4}
    assert "a plain warning line" in result.stderr_tail
    assert "progress" not in result.stderr_tail


@pytest.mark.slow
def test_it_kills_a_hanging_port_and_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    port = script(tmp_path, f"""
        import subprocess
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        time.sleep(60)
    """)
    started = time.monotonic()
    with pytest.raises(PortError) as err:
        run_port(port, [], timeout=1.5)
    assert err.value.kind == "timeout"
    assert "timed out after 1.5 s" in err.value.message
    assert time.monotonic() - started < 10
    assert wait_dead(int(pid_file.read_text()))


def test_it_names_the_signal_of_a_crash(tmp_path: Path) -> None:
    port = script(tmp_path, """
        sys.stderr.write("about to crash\\n"); sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGSEGV)
    """)
    with pytest.raises(PortError) as err:
        run_port(port, [], timeout=10)
    assert err.value.kind == "crashed"
    assert "SIGSEGV" in err.value.message
    assert "about to crash" in err.value.stderr_tail


def test_it_rejects_garbage_on_stdout(tmp_path: Path) -> None:
    port = script(tmp_path, 'print("hello, this is not json")')
    with pytest.raises(PortError) as err:
        run_port(port, [], timeout=10)
    assert err.value.kind == "bad_output"
    assert "hello, this is not json" in err.value.message


def test_it_rejects_json_that_is_not_an_object(tmp_path: Path) -> None:
    port = script(tmp_path, 'print("[1, 2, 3]")')
    with pytest.raises(PortError) as err:
        run_port(port, [], timeout=10)
    assert err.value.kind == "bad_output"


def test_it_passes_on_the_ports_own_error(tmp_path: Path) -> None:
    port = script(tmp_path, """
        print(json.dumps({"error": "decode_error", "message": "could not decode the audio"}))
        sys.exit(1)
    """)
    with pytest.raises(PortError) as err:
        run_port(port, [], timeout=10)
    assert (err.value.kind, err.value.message) == ("decode_error", "could not decode the audio")


def test_it_reports_a_bare_non_zero_exit_with_the_stderr_tail(tmp_path: Path) -> None:
    port = script(tmp_path, 'sys.stderr.write("Traceback: boom\\n"); sys.exit(3)')
    with pytest.raises(PortError) as err:
        run_port(port, [], timeout=10)
    assert err.value.kind == "exited"
    assert "status 3" in err.value.message
    assert "Traceback: boom" in err.value.stderr_tail


def test_it_stops_a_port_over_its_memory_limit(tmp_path: Path) -> None:
    port = script(tmp_path, """
        blocks = []
        for _ in range(100):
            blocks.append(b"\x01" * (20 * 1024 * 1024))  # touched pages, so they count as resident
            time.sleep(0.05)
        print(json.dumps({"ok": True}))
    """)
    with pytest.raises(PortError) as err:
        run_port(port, [], timeout=30, memory_limit_mb=200)
    assert err.value.kind == "memory_limit"
    assert "limit of 200 MB" in err.value.message


def test_it_cancels_when_asked(tmp_path: Path) -> None:
    port = script(tmp_path, "time.sleep(60)")
    started = time.monotonic()
    with pytest.raises(PortError) as err:
        run_port(port, [], timeout=60, should_cancel=lambda: time.monotonic() - started > 0.5)
    assert err.value.kind == "cancelled"
    assert time.monotonic() - started < 10


def test_it_reports_a_port_that_cannot_start(tmp_path: Path) -> None:
    with pytest.raises(PortError) as err:
        run_port(tmp_path / "port.py", [], timeout=5, python=str(tmp_path / "no-such-python"))
    assert err.value.kind == "not_started"


def test_a_killed_job_process_takes_its_port_with_it(tmp_path: Path) -> None:
    """The runner's caller (an RQ work horse) dies: the kernel kills the port too (PR_SET_PDEATHSIG)."""
    pid_file = tmp_path / "port.pid"
    port = script(tmp_path, f"open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)")
    caller = tmp_path / "caller.py"
    caller.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
        from tracks.ports.host.runner import run_port
        run_port({str(port)!r}, [], timeout=60)
    """))
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, str(caller)])
    deadline = time.monotonic() + 10
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    port_pid = int(pid_file.read_text())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert wait_dead(port_pid), "the port outlived its killed caller"


PROTOCOL_PORT = """
sys.path.insert(0, {root!r})
from tracks.ports.port_protocol import run

def main(argv):
    with open(argv[0], "wb") as out:
        for _ in range(64):
            out.write(bytes(65536))
            out.flush()
    return {{"written": argv[0]}}

sys.exit(run(main, sys.argv[1:], "failed"))
"""


@pytest.mark.parametrize(("target", "limit_mb", "message"), [
    ("/dev/full", None, "ran out of space writing its output: the disk is full"),
    ("big.bin", 1, "ran out of space writing its output: an output file reached the size limit of 1 MB"),
])
def test_a_port_out_of_disk_space_says_so(tmp_path: Path, target: str, limit_mb: int | None, message: str) -> None:
    port = script(tmp_path, PROTOCOL_PORT.format(root=str(Path(__file__).parent.parent)))
    with pytest.raises(PortError) as err:
        run_port(port, [str(tmp_path / target)], timeout=30, max_file_mb=limit_mb)
    assert (err.value.kind, err.value.message) == ("disk_full", message)
    if limit_mb:
        assert (tmp_path / target).stat().st_size == limit_mb * 2**20  # the kernel stopped it there


def test_a_port_runs_at_the_nice_level_asked(tmp_path: Path) -> None:
    port = script(tmp_path, 'print(json.dumps({"nice": os.nice(0)}))')
    base = run_port(port, [], timeout=30).data["nice"]
    assert run_port(port, [], timeout=30, nice=7).data["nice"] == min(19, base + 7)


@pytest.mark.slow
def test_a_port_starts_while_another_thread_holds_an_image_scaler(tmp_path: Path) -> None:
    """The web process has threads, and PyAV keeps an image scaler (with threads of its own) per thread that
    re-encoded a cover. Python run between fork and exec (Popen's preexec_fn) hung for ever freeing it in the
    child; the runner now starts ports with nothing of ours between the two."""
    import threading

    from tests.audio import jpeg

    scaled, done = threading.Event(), threading.Event()

    def keep_a_scaler() -> None:
        jpeg()
        scaled.set()
        done.wait(60)

    holder = threading.Thread(target=keep_a_scaler, daemon=True)
    holder.start()
    assert scaled.wait(30)
    port = script(tmp_path, 'print(json.dumps({"pid": os.getpid()}))')
    results: list[dict] = []
    starter = threading.Thread(target=lambda: results.append(
        run_port(port, [], timeout=20, max_file_mb=1, nice=1).data), daemon=True)
    starter.start()
    starter.join(30)
    done.set()
    assert results and results[0]["pid"] > 0, "the port never started"
