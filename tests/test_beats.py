"""The beat network run without torch (tracks/ports/beats.py) is the network BeatNet ships."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from tracks.ports import beats

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


def test_the_numpy_network_gives_torchs_activations() -> None:
    features = np.abs(np.random.default_rng(0).standard_normal((300, 272))).astype(np.float32)
    model = beatnet_model()(272, 150, 2, "cpu")
    model.load_state_dict(torch.load(MODELS / beats.WEIGHT_FILES[0], map_location="cpu"), strict=False)
    model.eval()
    with torch.no_grad():
        expected = model.final_pred(model(torch.from_numpy(features).unsqueeze(0))[0]).numpy()[:2].T
    ours = beats.Network(beats.read_state_dict(os.fspath(MODELS / beats.WEIGHT_FILES[0])))(features)
    np.testing.assert_allclose(ours, expected, atol=1e-5)
    assert ours.shape == (300, 2)
