"""The librosa port as a real subprocess, run exactly as ADR-002 says, on audio with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests import audio, portcli


def run(*args: str, env: dict[str, str]) -> tuple[int, dict, list[dict]]:
    return portcli.run("analyzer", *args, env=env)


@pytest.mark.slow
def test_it_finds_tempo_key_and_beats(c_major_wav: Path, port_env: dict[str, str]) -> None:
    code, out, progress = run(str(c_major_wav), "--features", "tempo,key", "--output", "json", env=port_env)
    assert code == 0, out
    assert out["tempo"] == pytest.approx(120.0, abs=1.5)
    assert (out["key"]["key"], out["key"]["mode"]) == ("C", "major")
    assert 0 <= out["key"]["confidence"] <= 1
    intervals = [b - a for a, b in zip(out["beats"], out["beats"][1:], strict=False)]
    assert len(out["beats"]) >= 8
    assert all(abs(i - 0.5) < 0.05 for i in intervals)
    assert out["duration"] == pytest.approx(12.0, abs=0.01)
    assert "energy" not in out  # only what was asked for
    fractions = [p["progress"] for p in progress]
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0


@pytest.mark.slow
def test_it_reads_minor_keys_from_stereo_mp3(fsharp_minor_mp3: Path, port_env: dict[str, str]) -> None:
    code, out, _ = run(str(fsharp_minor_mp3), "--features", "tempo,key", env=port_env)
    assert code == 0, out
    assert (out["key"]["key"], out["key"]["mode"]) == ("F#", "minor")
    assert out["tempo"] == pytest.approx(123.4, abs=1.5)
    assert out["channels"] == 2


@pytest.mark.slow
def test_a_click_track_keeps_its_tempo_to_a_tenth_of_a_bpm(tmp_path: Path, port_env: dict[str, str]) -> None:
    """beat_track alone says 123.05 here (its tempogram's bins); the fitted beat period says 123.4."""
    path = audio.write_wav(tmp_path / "click.wav", audio.song("F#", "minor", 123.4, 16.0))
    code, out, _ = run(str(path), "--features", "tempo", env=port_env)
    assert code == 0, out
    assert out["tempo"] == pytest.approx(123.4, abs=0.1)


@pytest.mark.slow
def test_sixteenth_note_hats_do_not_double_the_tempo(tmp_path: Path, port_env: dict[str, str]) -> None:
    """The 2:1 trap: hi-hats four to a beat at 95 BPM sound like a pulse at 190; a person taps 95."""
    y = audio.song("D", "minor", 95.0, 16.0, click=0.0) + audio.kit(95.0, 16.0, pattern="KhhhShhhKhhKShhh", per_beat=4)
    song = audio.write_wav(tmp_path / "sixteenths.wav", (0.5 * y).astype(np.float32))
    code, out, _ = run(str(song), "--features", "tempo", env=port_env)
    assert code == 0, out
    assert out["tempo"] == pytest.approx(95.0, rel=0.04)
    assert out["beat_tracker"] == "beatnet"


@pytest.mark.slow
def test_dotted_quarter_stabs_do_not_pull_the_tempo_to_two_thirds(tmp_path: Path, port_env: dict[str, str]) -> None:
    """The 3:2 trap: a kick on every dotted quarter over a 150 BPM groove is a pulse at 100; a person taps 150."""
    y = audio.song("E", "minor", 150.0, 16.0) + 0.8 * audio.kit(150.0, 16.0, pattern="K..", per_beat=2)
    song = audio.write_wav(tmp_path / "dotted.wav", (0.5 * y).astype(np.float32))
    code, out, _ = run(str(song), "--features", "tempo", env=port_env)
    assert code == 0, out
    assert out["tempo"] == pytest.approx(150.0, rel=0.04)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["noise", "fragment", "pad"])
def test_no_steady_tempo_gives_no_number(kind: str, tmp_path: Path, port_env: dict[str, str]) -> None:
    """Noise, a 2-second fragment of a song and a held chord have no tempo to speak of: no number, no grid."""
    rng = np.random.default_rng(3)
    y = {
        "noise": lambda: 0.3 * rng.standard_normal(22050 * 12),
        "fragment": lambda: audio.song("C", "major", 120.0, 2.0),
        "pad": lambda: audio.pad(["C:maj", "A:min"], seconds=12.0),
    }[kind]()
    path = audio.write_wav(tmp_path / f"{kind}.wav", np.asarray(y, dtype=np.float32))
    code, out, _ = run(str(path), "--features", "tempo,meter,chords", env=port_env)
    assert code == 0, out
    assert out["tempo"] is None
    assert out["beats"] == [] and out["downbeats"] == []


@pytest.mark.slow
def test_noise_has_no_clear_key(tmp_path: Path, port_env: dict[str, str]) -> None:
    path = audio.write_wav(tmp_path / "noise.wav",
                           (0.3 * np.random.default_rng(4).standard_normal(22050 * 12)).astype(np.float32))
    code, out, _ = run(str(path), "--features", "key", env=port_env)
    assert code == 0, out
    assert out["key"]["clear"] is False
    assert len(out["key"]["candidates"]) >= 2


@pytest.mark.slow
def test_without_the_beat_network_librosa_tracks_and_says_so(c_major_wav: Path, tmp_path: Path,
                                                              port_env: dict[str, str]) -> None:
    code, out, progress = run(str(c_major_wav), "--features", "tempo",
                              env={**port_env, "SOUNDFORGE_BEAT_WEIGHTS": str(tmp_path)})
    assert code == 0, out
    assert out["beat_tracker"] == "librosa"
    # Plain librosa hears this kick-on-one-and-three groove at half time (what the network fixed).
    assert any(out["tempo"] == pytest.approx(bpm, rel=0.04) for bpm in (120.0, 60.0))
    assert len(out["beats"]) >= 5
    assert any("librosa" in line["stage"] for line in progress)


@pytest.mark.slow
def test_all_gives_every_feature_in_its_documented_shape(tmp_path: Path, port_env: dict[str, str]) -> None:
    path = audio.write_encoded(tmp_path / "a.flac", audio.song("A", "minor", 96, 6.0), fmt="flac", codec="flac")
    code, out, _ = run(str(path), "--features", "all", env=port_env)
    assert code == 0, out
    assert out["features"] == ["tempo", "key", "energy", "spectral", "mfcc", "chroma", "waveform", "meter", "chords",
                               "sections", "loudness"]
    assert out["meter"]["beats_per_bar"] in (3, 4) and 0 <= out["meter"]["confidence"] <= 1
    assert set(out["downbeats"]) <= set(out["beats"])
    assert out["chords"][0][0] == 0.0 and out["chords"][-1][1] == out["duration"]
    assert out["sections"][0]["start"] == 0.0 and out["sections"][-1]["end"] == out["duration"]
    assert out["loudness"]["integrated_lufs"] < 0
    assert "stems" not in out
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


def chord_at(chords: list[list], t: float) -> str:
    return next(label for start, end, label in chords if start <= t < end)


@pytest.mark.slow
def test_a_waltz_comes_back_in_three_with_its_chords(tmp_path: Path, port_env: dict[str, str]) -> None:
    progression = ["C:maj", "F:maj", "G:7", "C:maj"] * 2
    bar = 3 * 60 / 132
    path = audio.write_wav(tmp_path / "waltz.wav", audio.progression(progression, bpm=132, beats_per_bar=3))
    code, out, _ = run(str(path), "--features", "meter,chords", env=port_env)
    assert code == 0, out
    assert out["features"] == ["tempo", "meter", "chords"]  # the beats they stand on come along
    assert out["meter"]["beats_per_bar"] == 3
    # Every downbeat is within 60 ms of a bar line, and there is one a bar after the first.
    assert all(abs(d / bar - round(d / bar)) * bar < 0.06 for d in out["downbeats"])
    assert len(out["downbeats"]) >= len(progression) - 1
    assert [chord_at(out["chords"], (i + 0.5) * bar) for i in range(len(progression))] == progression


@pytest.mark.slow
def test_a_cadence_in_fsharp_minor_reads_as_fsharp_minor_in_four(tmp_path: Path, port_env: dict[str, str]) -> None:
    progression = ["F#:min", "B:min", "C#:7", "F#:min"] * 2
    bar = 4 * 60 / 110
    path = audio.write_encoded(tmp_path / "cadence.mp3", audio.progression(progression, bpm=110), channels=2)
    code, out, _ = run(str(path), "--features", "key,meter,chords", env=port_env)
    assert code == 0, out
    assert (out["key"]["key"], out["key"]["mode"]) == ("F#", "minor")
    assert out["tempo"] == pytest.approx(110, abs=0.1)
    assert out["meter"]["beats_per_bar"] == 4
    assert all(abs(d / bar - round(d / bar)) * bar < 0.06 for d in out["downbeats"])
    assert [chord_at(out["chords"], (i + 0.5) * bar) for i in range(len(progression))] == progression


@pytest.mark.slow
def test_chords_hold_for_the_bar_under_passing_notes_and_rest_in_a_drum_break(tmp_path: Path,
                                                                              port_env: dict[str, str]) -> None:
    """A melody walks through notes outside the chord on every beat (the per-beat chord would follow it);
    two bars of drums alone sit between two verses."""
    bpm, sr = 120.0, 22050
    chords = ["A:min", "F:maj", "C:maj", "G:maj"]
    verse = audio.progression(chords, bpm=bpm)
    beat = round(60 / bpm * sr)
    t = np.arange(beat) / sr
    walk = {"A:min": (69, 71, 72, 74), "F:maj": (65, 67, 69, 70), "C:maj": (64, 65, 67, 69), "G:maj": (67, 69, 71, 72)}
    for bar, name in enumerate(chords):
        for b, midi in enumerate(walk[name]):
            start = (bar * 4 + b) * beat
            verse[start:start + beat] += 0.25 * np.sin(2 * np.pi * 440 * 2 ** ((midi - 69) / 12) * t) * np.exp(-t / 0.4)
    verse = np.tile(verse, 2)
    brk = 0.6 * audio.kit(bpm, 8 * 60 / bpm, pattern="KhShKhSh")
    y = np.concatenate([verse, brk, verse]).astype(np.float32)
    path = audio.write_wav(tmp_path / "break.wav", y / np.abs(y).max() * 0.8)
    code, out, _ = run(str(path), "--features", "meter,chords", env=port_env)
    assert code == 0, out
    bar = 4 * 60 / bpm
    sung = [chord_at(out["chords"], (i + f) * bar) for i in (*range(8), *range(10, 18)) for f in (0.1, 0.4, 0.6, 0.9)]
    assert sung == [name for _ in range(4) for name in chords for _ in range(4)]
    assert {chord_at(out["chords"], (8 + f) * bar) for f in (0.1, 0.3, 0.5, 0.7, 0.9, 1.1, 1.5, 1.9)} == {"N"}


@pytest.mark.slow
def test_sections_find_a_verse_that_returns_and_the_key_it_moved_to(tmp_path: Path, port_env: dict[str, str]) -> None:
    verse = ["C:maj", "F:maj", "G:maj", "C:maj"] * 2
    bridge = ["A:min", "D:min", "E:min", "A:min"] * 2
    y = np.concatenate([audio.progression(verse, bpm=140), audio.progression(bridge, bpm=140, brightness=0.6),
                        audio.progression(verse, bpm=140)])
    path = audio.write_wav(tmp_path / "aba.wav", y)
    length = 8 * 4 * 60 / 140  # eight bars
    code, out, _ = run(str(path), "--features", "key,sections", env=port_env)
    assert code == 0, out
    sections = out["sections"]
    assert [s["label"] for s in sections] == ["A", "B", "A"]
    assert sections[1]["start"] == pytest.approx(length, abs=0.1)
    assert sections[2]["start"] == pytest.approx(2 * length, abs=0.1)
    assert [(k["key"], k["mode"]) for k in out["key_changes"]] == [("C", "major"), ("A", "minor"), ("C", "major")]


@pytest.mark.slow
def test_loudness_of_a_known_tone(tmp_path: Path, port_env: dict[str, str]) -> None:
    """BS.1770: a 997 Hz sine at half scale in both channels reads -6.02 LUFS, and its true peak -6.02 dBTP."""
    path = audio.write_encoded(tmp_path / "tone.flac", audio.sine(amplitude=0.5, seconds=8.0, sr=48000),
                               sr=48000, fmt="flac", codec="flac", channels=2)
    quiet = audio.write_wav(tmp_path / "quiet.wav", audio.sine(amplitude=0.05, seconds=8.0, sr=48000), sr=48000)
    code, out, _ = run(str(path), "--features", "loudness", f"--stem=vocals={quiet}", env=port_env)
    assert code == 0, out
    loud = out["loudness"]
    assert loud["integrated_lufs"] == pytest.approx(-6.02, abs=0.15)
    assert loud["true_peak_dbtp"] == pytest.approx(-6.02, abs=0.15)
    assert loud["range_lu"] < 2  # steady; pyloudnorm fades into the 1.5 s of silence EBU 3342 appends
    # One short-term (3 s) point a second while the window fits in 8 s.
    assert len(loud["short_term"]) == 6
    assert all(v == pytest.approx(-6.02, abs=0.2) for v in loud["short_term"])
    # A mono stem a tenth as loud: 20 dB quieter, and 3 dB less again for having one channel.
    assert out["stems"]["vocals"]["loudness"]["integrated_lufs"] == pytest.approx(-29.03, abs=0.15)


@pytest.mark.slow
def test_a_drum_stem_steadies_the_beats(tmp_path: Path, port_env: dict[str, str]) -> None:
    """Chords alone (one a bar) hide the pulse; the drum stem's clicks give it back."""
    mix = audio.write_wav(tmp_path / "mix.wav", audio.song("C", "major", 123.4, 16.0, click=0.0))
    drums = audio.write_wav(tmp_path / "drums.wav", (0.5 * audio.kit(123.4, 16.0)).astype(np.float32))
    _, alone, _ = run(str(mix), "--features", "tempo", env=port_env)
    assert alone["tempo"] != pytest.approx(123.4, rel=0.04)  # the mix alone hears only the bars
    code, out, _ = run(str(mix), "--features", "tempo", f"--stem=drums={drums}", env=port_env)
    assert code == 0, out
    assert out["tempo"] == pytest.approx(123.4, abs=0.1)
    assert len(out["beats"]) >= 28


@pytest.mark.parametrize("spec", ["drums", "kazoo={audio}", "bass="])
def test_it_rejects_a_bad_stem(spec: str, c_major_wav: Path, port_env: dict[str, str]) -> None:
    code, out, _ = run(str(c_major_wav), "--features", "tempo", f"--stem={spec.format(audio=c_major_wav)}",
                       env=port_env)
    assert code == 2
    assert out["error"] == "invalid_arguments"


@pytest.mark.slow
def test_audio_too_short_for_a_loudness_still_gets_its_other_figures(tmp_path: Path, port_env: dict[str, str]) -> None:
    """Found by the fuzz test: a quarter of a second used to fail the whole analysis."""
    path = audio.write_wav(tmp_path / "blip.wav", audio.sine(amplitude=0.5, seconds=0.25, sr=22050), 22050)
    code, out, _ = run(str(path), "--features", "all", env=port_env)
    assert code == 0, out
    assert out["loudness"]["integrated_lufs"] is None and out["loudness"]["short_term"] == []
    assert out["loudness"]["true_peak_dbtp"] == pytest.approx(-6.0, abs=0.5)
    assert out["duration"] == pytest.approx(0.25, abs=0.01)


@pytest.mark.filterwarnings("ignore:n_fft=2048 is too large")  # librosa, of the reference below
@pytest.mark.parametrize("seconds", [0.05, 30.0])
def test_the_spectrogram_in_blocks_is_librosas(seconds: float) -> None:
    """The port never holds a whole STFT: its blocks, end to end, are librosa's centred STFT magnitude."""
    import librosa

    from tracks.ports import analyzer

    y = np.random.default_rng(3).standard_normal(int(seconds * 22050)).astype(np.float32)
    blocks = list(analyzer.magnitude_blocks(librosa, y))
    assert len(blocks) == int(np.ceil((1 + y.size // analyzer.HOP) / analyzer.SPECTRAL_BLOCK))
    np.testing.assert_allclose(np.concatenate(blocks, axis=1),
                               np.abs(librosa.stft(y, n_fft=analyzer.N_FFT, hop_length=analyzer.HOP)),
                               rtol=1e-5, atol=1e-5)


def test_every_feature_in_the_contract_has_one_measure_and_each_part_is_computed_once() -> None:
    """The registry answers for exactly the contract's features, in its order; the shared context computes the
    CQT, the grid and the harmony once however many features read them."""
    from tracks.ports import analyzer, contract

    assert tuple(analyzer.MEASURES) == contract.FEATURES
    assert len({f.stage for f in analyzer.MEASURES.values()}) == len(contract.FEATURES)
    with pytest.raises(ValueError, match="contract"):
        analyzer.feature("tempo2", "a second tempo")(lambda c: {})

    y = audio.song("C", "major", 120.0, 12.0)
    context = analyzer.Context(y, 22050, ["key", "chroma"])
    calls = []
    real = context.librosa.cqt
    context.librosa = type("Counting", (), {"cqt": staticmethod(lambda *a, **k: calls.append(1) or real(*a, **k)),
                                             "note_to_hz": staticmethod(context.librosa.note_to_hz)})()
    for name in context.features:
        context.out.update(analyzer.MEASURES[name].measure(context))
    assert len(calls) == 1
    assert context.out["key"]["key"] == "C" and len(context.out["chroma"]["mean"]) == 12
