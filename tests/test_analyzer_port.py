"""The librosa port as a real subprocess, run exactly as ADR-002 says, on audio with known answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import audio, portcli


def run(*args: str, env: dict[str, str]) -> tuple[int, dict, list[dict]]:
    return portcli.run("analyzer", *args, env=env)


def test_it_finds_tempo_key_and_beats(c_major_wav: Path, port_env: dict[str, str]) -> None:
    code, out, progress = run(str(c_major_wav), "--features", "tempo,key", "--output", "json", env=port_env)
    assert code == 0, out
    assert out["tempo"] == pytest.approx(120.0, abs=1.5)
    assert (out["key"]["key"], out["key"]["mode"]) == ("C", "major")
    assert 0 <= out["key"]["confidence"] <= 1
    intervals = [b - a for a, b in zip(out["beats"], out["beats"][1:], strict=False)]
    assert len(out["beats"]) >= 8
    assert all(abs(i - 0.5) < 0.05 for i in intervals)
    assert out["duration"] == pytest.approx(8.0, abs=0.01)
    assert "energy" not in out  # only what was asked for
    fractions = [p["progress"] for p in progress]
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0


def test_it_reads_minor_keys_from_stereo_mp3(fsharp_minor_mp3: Path, port_env: dict[str, str]) -> None:
    code, out, _ = run(str(fsharp_minor_mp3), "--features", "tempo,key", env=port_env)
    assert code == 0, out
    assert (out["key"]["key"], out["key"]["mode"]) == ("F#", "minor")
    assert out["tempo"] == pytest.approx(123.4, abs=1.5)
    assert out["channels"] == 2


@pytest.mark.parametrize("bpm", [150.0, 172.0])
def test_a_fast_click_with_bar_accents_keeps_its_tempo(bpm: float, tmp_path: Path, port_env: dict[str, str]) -> None:
    """The half-time check must not halve a quarter-note click whose only accent is the bar's first beat."""
    song = audio.write_wav(tmp_path / "fast.wav", audio.song("A", "minor", bpm, 8.0))
    code, out, _ = run(str(song), "--features", "tempo", env=port_env)
    assert code == 0, out
    assert out["tempo"] == pytest.approx(bpm, rel=0.04)


def test_all_gives_every_feature_in_its_documented_shape(tmp_path: Path, port_env: dict[str, str]) -> None:
    path = audio.write_encoded(tmp_path / "a.flac", audio.song("A", "minor", 96, 6.0), fmt="flac", codec="flac")
    code, out, _ = run(str(path), "--features", "all", env=port_env)
    assert code == 0, out
    assert out["features"] == ["tempo", "key", "energy", "spectral", "mfcc", "chroma", "waveform"]
    assert len(out["mfcc"]["mean"]) == 13 and len(out["mfcc"]["var"]) == 13
    assert len(out["chroma"]["mean"]) == 12
    assert max(out["chroma"]["mean"]) == out["chroma"]["mean"][9]  # A, the tonic, is the strongest class
    # Energy curve at ~2 Hz: 6 s gives about 12 points.
    assert 11 <= len(out["energy"]["curve"]) <= 13
    assert out["energy"]["rms_max"] >= out["energy"]["rms_mean"] > 0
    for name in ("centroid", "rolloff", "bandwidth", "flatness"):
        assert out["spectral"][name]["mean"] > 0
    assert len(out["spectral"]["contrast"]) == 7
    assert out["waveform"]["points"] == len(out["waveform"]["max"]) == len(out["waveform"]["min"])
    assert out["spectral"]["rolloff"]["mean"] > out["spectral"]["centroid"]["mean"]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--features", "tempo"], "invalid_arguments"),  # no audio path
        (["{audio}", "--features", "tempo,colour"], "invalid_arguments"),
        (["{audio}", "--output", "xml"], "invalid_arguments"),
        (["/no/such/file.mp3", "--features", "tempo"], "file_not_found"),
        (["{text}", "--features", "tempo"], "decode_error"),
    ],
)
def test_it_fails_with_a_typed_error(args: list[str], error: str, c_major_wav: Path, tmp_path: Path,
                                     port_env: dict[str, str]) -> None:
    text = tmp_path / "notes.mp3"
    text.write_text("these are my lyrics, not audio\n" * 50)
    args = [a.format(audio=c_major_wav, text=text) for a in args]
    code, out, _ = run(*args, env=port_env)
    assert code != 0
    assert out["error"] == error
    assert out["message"]
