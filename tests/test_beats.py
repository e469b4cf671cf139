"""The beat network run without torch (tracks/ports/lib/beats.py) is the network BeatNet ships."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from tracks.ports.lib import beats

MODELS = Path(next(iter(importlib.util.find_spec("BeatNet").submodule_search_locations))) / "models"


def beatnet_model() -> type:
    """BeatNet's own torch module, loaded from its file (the package's __init__ imports PyAudio)."""
    spec = importlib.util.spec_from_file_location("beatnet_model", MODELS.parent / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BDA


@pytest.mark.parametrize("name", beats.WEIGHT_FILES)
def test_it_reads_the_checkpoints_as_torch_does(name: str) -> None:
    ours = beats.read_state_dict(os.fspath(MODELS / name))
    theirs = torch.load(MODELS / name, map_location="cpu")
    assert set(ours) == set(theirs)
    for key, tensor in theirs.items():
        assert ours[key].shape == tuple(tensor.shape)
        np.testing.assert_array_equal(ours[key], tensor.numpy())


@pytest.mark.parametrize("frames", [300, beats.BLOCK * 2 + 50])
def test_the_numpy_network_gives_torchs_activations(frames: int) -> None:
    features = np.abs(np.random.default_rng(0).standard_normal((frames, 272))).astype(np.float32)
    model = beatnet_model()(272, 150, 2, "cpu")
    model.load_state_dict(torch.load(MODELS / beats.WEIGHT_FILES[0], map_location="cpu"), strict=False)
    model.eval()
    with torch.no_grad():
        expected = model.final_pred(model(torch.from_numpy(features).unsqueeze(0))[0]).numpy()[:2].T
    ours = beats.Network(beats.read_state_dict(os.fspath(MODELS / beats.WEIGHT_FILES[0])))(features)
    np.testing.assert_allclose(ours, expected, atol=1e-5)
    assert ours.shape == (frames, 2)


def madmom_features(y: np.ndarray) -> np.ndarray:
    """madmom-infer's own processors, the pipeline beats.features() computes block by block."""
    from madmom_infer.audio.signal import FramedSignalProcessor, SignalProcessor
    from madmom_infer.audio.spectrogram import (
        FilteredSpectrogramProcessor,
        LogarithmicSpectrogramProcessor,
        SpectrogramDifferenceProcessor,
    )
    from madmom_infer.audio.stft import ShortTimeFourierTransformProcessor
    from madmom_infer.processors import SequentialProcessor

    pipeline = SequentialProcessor([
        SignalProcessor(num_channels=1, sample_rate=beats.SAMPLE_RATE),
        FramedSignalProcessor(frame_size=beats.WINDOW, hop_size=beats.HOP),
        ShortTimeFourierTransformProcessor(),
        FilteredSpectrogramProcessor(num_bands=24, fmin=30, fmax=17000, norm_filters=True),
        LogarithmicSpectrogramProcessor(mul=1, add=1),
        SpectrogramDifferenceProcessor(diff_ratio=0.5, positive_diffs=True, stack_diffs=np.hstack),
    ])
    return np.asarray(pipeline(y), dtype=np.float32)


@pytest.mark.parametrize("seconds", [0.3, 45.1])
def test_the_block_features_are_madmoms(seconds: float) -> None:
    """Across block edges and both ends of the signal, and for a signal shorter than one frame."""
    rng = np.random.default_rng(1)
    t = np.arange(int(seconds * beats.SAMPLE_RATE)) / beats.SAMPLE_RATE
    y = (0.3 * np.sin(2 * np.pi * 440 * t) * (np.sin(2 * np.pi * 2 * t) > 0)
         + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    ours = beats.features(y)
    expected = madmom_features(y)
    assert ours.shape == expected.shape
    assert ours.shape[0] > beats.FEATURE_BLOCK or seconds < 1
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)


def test_the_viterbi_is_madmoms() -> None:
    """The compiled decoder finds madmom-infer's path through a beat state space, including the fixed
    predecessors it keeps no pointers for."""
    from madmom_infer.features.beats_hmm import BeatStateSpace, BeatTransitionModel, RNNBeatTrackingObservationModel
    from madmom_infer.ml.hmm import HiddenMarkovModel

    space = BeatStateSpace(14, 30)
    transitions = BeatTransitionModel(space, beats.TRANSITION_LAMBDA)
    observations = RNNBeatTrackingObservationModel(space, beats.OBSERVATION_LAMBDA)
    rng = np.random.default_rng(2)
    period = 21
    activation = np.clip(0.05 + 0.1 * rng.random(1200), 0, 1)
    activation[5::period] = 0.9  # a pulse, some of its beats missing
    activation[5 + period * 10: 5 + period * 14: period] = 0.05
    densities = np.stack([np.log((1 - activation) / (beats.OBSERVATION_LAMBDA - 1)), np.log(activation)], axis=1)

    class Given(RNNBeatTrackingObservationModel):
        def log_densities(self, _: np.ndarray) -> np.ndarray:
            return densities

    expected, _ = HiddenMarkovModel(transitions, Given(space, beats.OBSERVATION_LAMBDA)).viterbi(activation)
    ours = beats.viterbi(transitions.states, transitions.pointers, transitions.log_probabilities,
                         observations.pointers, densities)
    np.testing.assert_array_equal(ours, expected)
    assert set(observations.pointers[ours[5::period]]) == {1}  # in the beat states on every beat of the pulse
