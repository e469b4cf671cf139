"""The separation port as a real subprocess: demucs's own loading and separating code on a tiny random-weight
HTDemucs from a local repo, and the dsp engine, on synthesized audio."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests import audio, demucs_models, portcli


def run(*args: str, env: dict[str, str]) -> tuple[int, dict, list[dict]]:
    return portcli.run("demucs_separate", *args, env=env)


@pytest.mark.slow
def test_it_splits_into_four_stems_at_the_input_rate_and_length(
    tmp_path: Path, models_dir: Path, port_env: dict[str, str]
) -> None:
    mono = audio.write_wav(tmp_path / "in.wav", audio.song("D", "major", 110.0, 6.0, sr=22050), 22050)
    code, out, progress = run(str(mono), "--output-dir", str(tmp_path / "out"), "--models-dir", str(models_dir),
                              env=port_env)
    assert code == 0, out
    assert set(out["stems"]) == {"drums", "bass", "other", "vocals"}
    assert (out["model"], out["device"], out["sample_rate"]) == ("htdemucs", "cpu", 22050)
    for path in out["stems"].values():
        info = sf.info(path)
        assert (info.samplerate, info.frames, info.channels) == (22050, 6 * 22050, 2)
    assert out["stem_info"]["drums"]["peaks"]["points"] > 100
    fractions = [p["progress"] for p in progress]
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert any(p.get("eta") is not None for p in progress if p["stage"] == "separating")


@pytest.mark.slow
def test_it_gives_what_apply_model_gives_on_the_whole_file(
    tmp_path: Path, models_dir: Path, stereo_song_wav: Path, port_env: dict[str, str]
) -> None:
    """Streaming changes nothing: same segments, weights and shifts as demucs on the whole file in memory."""
    import torch
    from demucs.apply import apply_model
    from demucs.pretrained import get_model

    code, out, _ = run(str(stereo_song_wav), "--output-dir", str(tmp_path), "--models-dir", str(models_dir),
                       "--seed", "5", "--bit-depth", "32", "--segment", "1.5", env=port_env)
    assert code == 0, out
    model = get_model("htdemucs", repo=models_dir)
    wav = torch.from_numpy(sf.read(stereo_song_wav, dtype="float32")[0].T.copy())
    ref = wav.mean(0)
    scale = ref.std() + 1e-8
    random.seed(5)
    whole = apply_model(model, ((wav - ref.mean()) / scale)[None], shifts=1, segment=1.5)[0] * scale + ref.mean()
    for k, name in enumerate(model.sources):
        mine = sf.read(out["stems"][name], dtype="float32")[0].T
        assert np.abs(mine - whole[k].numpy()).max() < 1e-5, name


@pytest.mark.slow
def test_it_writes_six_stems_from_a_six_source_model_as_mp3(
    tmp_path: Path, models_dir: Path, stereo_song_wav: Path, port_env: dict[str, str]
) -> None:
    code, out, _ = run(str(stereo_song_wav), "--output-dir", str(tmp_path), "--models-dir", str(models_dir),
                       "--model", "htdemucs_6s", "--format", "mp3", "--bitrate", "192", env=port_env)
    assert code == 0, out
    assert set(out["stems"]) == {"drums", "bass", "other", "vocals", "guitar", "piano"}
    import av

    with av.open(out["stems"]["piano"]) as container:
        stream = container.streams.audio[0]
        assert (container.format.name, stream.rate) == ("mp3", 44100)
        assert float(container.duration / 1e6) == pytest.approx(10.0, abs=0.1)


@pytest.mark.slow
def test_the_dsp_engine_needs_no_weights_and_its_stems_sum_to_the_mix(
    tmp_path: Path, stereo_song_wav: Path, port_env: dict[str, str]
) -> None:
    code, out, progress = run(str(stereo_song_wav), "--output-dir", str(tmp_path), "--model", "dsp",
                              "--bit-depth", "24", "--models-dir", str(tmp_path / "none"), env=port_env)
    assert code == 0, out
    mix = sf.read(stereo_song_wav, dtype="float64")[0]
    stems = {name: sf.read(path, dtype="float64")[0] for name, path in out["stems"].items()}
    assert set(stems) == {"drums", "bass", "other", "vocals"}
    assert np.abs(sum(stems.values()) - mix).max() < 4 / 2**23 + 1 / 2**15  # 24-bit stems of a 16-bit mix
    # It does separate: the drums stem holds the clicks, not the chords.
    assert 0.01 < np.sqrt(np.mean(stems["drums"] ** 2)) / np.sqrt(np.mean(mix**2)) < 0.9
    assert progress[-1]["progress"] == 1.0


@pytest.mark.slow
def test_missing_weights_fail_fast_and_say_what_to_put_where(tmp_path: Path, stereo_song_wav: Path,
                                                            port_env: dict[str, str]) -> None:
    (tmp_path / "models").mkdir()
    started = time.monotonic()
    code, out, _ = run(str(stereo_song_wav), "--output-dir", str(tmp_path / "out"), "--models-dir",
                       str(tmp_path / "models"), "--model", "htdemucs_ft", env=port_env)
    # Fast: it looks in the folder and stops, where a download attempt would wait on the network for minutes
    # (the bound leaves room for importing torch on a loaded machine).
    assert time.monotonic() - started < 30
    assert code == 1
    assert out["error"] == "model_unavailable"
    assert "htdemucs_ft.yaml" in out["message"] and str(tmp_path / "models") in out["message"]

    started = time.monotonic()
    code, out, _ = run(str(stereo_song_wav), "--output-dir", str(tmp_path / "out"),
                       env={**port_env, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path), "TORCH_HOME": str(tmp_path)})
    assert time.monotonic() - started < 30
    assert (code, out["error"]) == (1, "model_unavailable")
    assert "SOUNDFORGE_MODELS_DIR" in out["message"]
    assert not list((tmp_path / "out").glob("*.wav"))


@pytest.mark.slow
def test_a_corrupt_weights_file_fails_clearly(tmp_path: Path, models_dir: Path, stereo_song_wav: Path,
                                               port_env: dict[str, str]) -> None:
    repo = tmp_path / "models"
    repo.mkdir()
    (repo / "htdemucs.yaml").write_text((models_dir / "htdemucs.yaml").read_text())
    weights = next(models_dir.glob("tiny0000-*.th"))
    (repo / weights.name).write_bytes(weights.read_bytes()[:5000])
    code, out, _ = run(str(stereo_song_wav), "--output-dir", str(tmp_path / "out"), "--models-dir", str(repo),
                       env=port_env)
    assert (code, out["error"]) == (1, "model_unavailable")
    assert "checksum" in out["message"].lower()


def test_it_rejects_what_is_not_audio(tmp_path: Path, port_env: dict[str, str]) -> None:
    bogus = tmp_path / "song.mp3"
    bogus.write_text("not audio")
    code, out, _ = run(str(bogus), "--output-dir", str(tmp_path / "out"), "--model", "dsp", env=port_env)
    assert (code, out["error"]) == (1, "decode_error")
    code, out, _ = run(str(bogus), "--output-dir", str(tmp_path / "out"), "--shifts", "99", env=port_env)
    assert (code, out["error"]) == (2, "invalid_arguments")


@pytest.mark.slow
def test_it_lists_the_models_it_can_load_and_why_not(tmp_path: Path, models_dir: Path,
                                                      port_env: dict[str, str]) -> None:
    code, out, _ = run("--list-models", "--models-dir", str(models_dir), env=port_env)
    assert code == 0, out
    models = {m["name"]: m for m in out["models"]}
    assert {n for n, m in models.items() if m["available"]} == {"htdemucs", "htdemucs_6s", "dsp"}
    assert "htdemucs_ft.yaml" in models["htdemucs_ft"]["reason"]
    code, out, _ = run("--list-models", "--models-dir", str(tmp_path / "nowhere"), env=port_env)
    assert code == 0 and [m["name"] for m in out["models"] if m["available"]] == ["dsp"]
    reason = {m["name"]: m for m in out["models"]}["htdemucs"]["reason"]
    assert "does not exist" in reason and "cannot start" in reason and "manage.py models fetch htdemucs" in reason
    # Where a download can start (something answers at the download host), the model is offered.
    with socket.socket() as host:
        host.bind(("127.0.0.1", 0))
        host.listen()
        hosts = f"127.0.0.1:{host.getsockname()[1]}"
        code, out, _ = run("--list-models", "--models-dir", str(tmp_path / "nowhere"),
                           env={**port_env, "SOUNDFORGE_MODEL_HOSTS": hosts})
    models = {m["name"]: m for m in out["models"]}
    assert models["htdemucs_ft"]["available"] and models["htdemucs_ft"]["source"] == "download on first use"


@pytest.mark.slow
def test_no_time_left_is_guessed_before_a_chunk_is_done(capfd: pytest.CaptureFixture[str]) -> None:
    """Before the first chunk there is no pace: a time left then climbed by seconds with every second (the
    fraction held while elapsed time grew), which reads as a hang. After one, it is given."""
    from tracks.ports import demucs_separate

    def lines() -> list[dict]:
        return [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith('{"progress"')]

    with demucs_separate.Heartbeat(3, "separating") as beat:
        time.sleep(2.5 * demucs_separate.HEARTBEAT_S)
        before = lines()
        beat.step()
        time.sleep(1.5 * demucs_separate.HEARTBEAT_S)
    after = lines()
    assert len(before) >= 3 and all(line.get("eta") is None for line in before)
    assert after and all(line.get("eta") is not None for line in after)
    assert after[0]["progress"] == round(1 / 3, 4)


@contextlib.contextmanager
def serving(folder: Path) -> Iterator[str]:
    """A repository of weights over HTTP, as demucs's own is."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_fetch_fills_a_models_folder_and_keeps_only_what_its_checksum_says(
    tmp_path: Path, stereo_song_wav: Path, port_env: dict[str, str]
) -> None:
    remote = tmp_path / "remote"
    weights = demucs_models.save_random_model(remote, "mine", "tiny", seed=3)
    (remote / "files.txt").write_text(f"{weights.name}\n")
    # Where htdemucs's weights would be, a file that is not them: its name's checksum is not its content's.
    (remote / "hybrid_transformer").mkdir()
    (remote / "hybrid_transformer" / "955717e8-8726e21a.th").write_bytes(weights.read_bytes())
    folder = tmp_path / "models"
    with serving(remote) as url:
        code, out, progress = portcli.run("demucs_repo", "fetch", "mine", "--models-dir", str(folder), "--url", url,
                                          env=port_env)
        assert code == 0, out
        assert out["fetched"] == {"mine": ["mine.yaml", weights.name]}
        assert (folder / weights.name).read_bytes() == weights.read_bytes()
        assert any(p["stage"].startswith("fetching mine") for p in progress)

        code, out, _ = portcli.run("demucs_repo", "fetch", "htdemucs", "--models-dir", str(folder), "--url", url,
                                   env=port_env)
        assert (code, out["error"]) == (1, "checksum_mismatch")
        assert not list(folder.glob("955717e8*"))  # nothing kept, not even a part
    # What was fetched loads: the port separates with it from the folder.
    code, out, _ = run(str(stereo_song_wav), "--output-dir", str(tmp_path / "out"), "--models-dir", str(folder),
                       "--model", "mine", env=port_env)
    assert code == 0, out
    assert set(out["stems"]) == {"drums", "bass", "other", "vocals"}


def test_a_fetch_that_cannot_start_says_so(tmp_path: Path, port_env: dict[str, str]) -> None:
    started = time.monotonic()
    code, out, _ = portcli.run("demucs_repo", "fetch", "htdemucs", "--models-dir", str(tmp_path / "models"),
                               "--url", "http://127.0.0.1:1/", env=port_env)
    assert (code, out["error"]) == (1, "fetch_failed") and "127.0.0.1:1" in out["message"]
    assert time.monotonic() - started < 30  # no retrying against a refused connection
