"""The render port (tracks/ports/render_mix.py) as a real subprocess: speed and pitch change what they
should (a sine comes out at the transposed frequency, a click track's clicks where the new tempo puts
them), the loop and the levels are honoured, and bad input is refused in words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests import portcli

RATE = 44100


def sine(freq: float, seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def clicks(beats: np.ndarray, seconds: float) -> np.ndarray:
    y = np.zeros(round(seconds * RATE), np.float32)
    n = round(0.01 * RATE)
    for b in beats:
        at = round(b * RATE)
        y[at:at + n] += np.sin(2 * np.pi * 1000 * np.arange(n) / RATE) * np.exp(-np.arange(n) / (0.002 * RATE))
    return y


def stem(folder: Path, name: str, mono: np.ndarray) -> Path:
    path = folder / f"{name}.wav"
    sf.write(path, np.stack([mono, mono], axis=1), RATE, subtype="PCM_16")
    return path


def render(port_env: dict, *args: str) -> tuple[int, dict, list[dict]]:
    return portcli.run("render_mix", *args, env=port_env, timeout=120)


def peak_hz(y: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.argmax(spectrum) * RATE / len(y))


@pytest.mark.parametrize(("speed", "semitones"), [(0.8, -2), (1.25, 3), (0.5, 12)])
def test_a_sine_comes_out_transposed_and_as_long_as_the_speed_says(tmp_path: Path, port_env: dict, speed: float,
                                                                    semitones: int) -> None:
    source = stem(tmp_path, "tone", sine(440.0, 4.0))
    out = tmp_path / "out.wav"
    code, result, progress = render(port_env, "--stem", f"{source}", "--rate", str(speed), "--semitones",
                                    str(semitones), "--output", str(out))
    assert code == 0, result
    y, rate = sf.read(out, dtype="float32", always_2d=True)
    assert rate == RATE and abs(len(y) / RATE - 4.0 / speed) < 0.01
    assert result["duration"] == pytest.approx(4.0 / speed, abs=0.01)
    middle = y[len(y) // 4: 3 * len(y) // 4, 0]
    assert peak_hz(middle) == pytest.approx(440.0 * 2 ** (semitones / 12), rel=0.01)
    assert [p["stage"] for p in progress][-1] == "done" and "changing speed and pitch" in {p["stage"] for p in progress}


@pytest.mark.parametrize("speed", [0.8, 1.25])
def test_a_click_tracks_clicks_land_where_the_new_tempo_puts_them(tmp_path: Path, port_env: dict, speed: float) -> None:
    beats = np.arange(0.5, 5.5, 0.5)  # 120 BPM
    source = stem(tmp_path, "click", clicks(beats, 6.0))
    out = tmp_path / "out.wav"
    code, result, _ = render(port_env, "--stem", str(source), "--rate", str(speed), "--output", str(out))
    assert code == 0, result
    y = np.abs(sf.read(out, dtype="float32", always_2d=True)[0][:, 0])
    for beat in beats:
        expected = beat / speed
        window = y[round((expected - 0.15) * RATE):round((expected + 0.15) * RATE)]
        onset = expected - 0.15 + np.argmax(window > 0.2 * window.max()) / RATE
        assert abs(onset - expected) < 0.005, (beat, onset, expected)  # 120 BPM became 120 x speed


def test_the_loop_and_the_levels_are_honoured(tmp_path: Path, port_env: dict) -> None:
    low, high = stem(tmp_path, "low", sine(220.0, 6.0)), stem(tmp_path, "high", sine(660.0, 6.0))
    out = tmp_path / "out.wav"
    code, result, _ = render(port_env, "--stem", f"{low}:1:-1", "--stem", f"{high}:0:0", "--start", "1.0",
                             "--end", "3.0", "--rate", "0.8", "--output", str(out))
    assert code == 0, result
    y = sf.read(out, dtype="float32", always_2d=True)[0]
    assert abs(len(y) / RATE - 2.0 / 0.8) < 0.01  # the loop's two seconds, slower
    middle = y[len(y) // 4: 3 * len(y) // 4]
    assert peak_hz(middle[:, 0]) == pytest.approx(220.0, rel=0.01)  # the high stem muted
    assert np.abs(middle[:, 1]).max() < 0.01 < np.abs(middle[:, 0]).max()  # panned hard left


def test_an_mp3_comes_out_when_asked_for(tmp_path: Path, port_env: dict) -> None:
    source = stem(tmp_path, "tone", sine(440.0, 3.0))
    out = tmp_path / "out.mp3"
    code, result, _ = render(port_env, "--stem", str(source), "--rate", "1.5", "--format", "mp3", "--output", str(out))
    assert code == 0 and result["bytes"] == out.stat().st_size
    assert out.read_bytes()[:2] in (b"ID", b"\xff\xfb", b"\xff\xf3")
    assert result["duration"] == pytest.approx(2.0, abs=0.01)


@pytest.mark.parametrize(("args", "kind", "said"), [
    (["--rate", "2"], "invalid_arguments", "speed must be 0.5 to 1.5"),
    (["--semitones", "13"], "invalid_arguments", "transpose -12 to 12"),
    (["--start", "3", "--end", "2"], "invalid_arguments", "the end must come after the start"),
    (["--start", "9"], "invalid_arguments", "nothing between 9.0 s"),
])
def test_bad_input_is_refused_in_words_and_leaves_no_file(tmp_path: Path, port_env: dict, args: list[str], kind: str,
                                                          said: str) -> None:
    source = stem(tmp_path, "tone", sine(440.0, 3.0))
    out = tmp_path / "out.wav"
    code, result, _ = render(port_env, "--stem", str(source), *args, "--output", str(out))
    assert code != 0 and result["error"] == kind and said in result["message"] and not out.exists()


def test_a_missing_stem_is_refused(tmp_path: Path, port_env: dict) -> None:
    code, result, _ = render(port_env, "--stem", str(tmp_path / "gone.wav"), "--output", str(tmp_path / "o.wav"))
    assert code != 0 and result["error"] == "file_not_found"
