"""Random-weight HTDemucs models saved as a local demucs repo, so the real loading and separating code runs.

Demucs weights cannot be downloaded here; ``get_model(name, repo=folder)`` loads these exactly as it would
the official ``<sig>-<sha8>.th`` files and bag ``.yaml``. Used by the tests (``tiny``) and by
bench/separation.py (``htdemucs``: the published architecture, ~42 M parameters, the same compute).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

SIZES = {
    "tiny": dict(channels=8, depth=4, nfft=1024, t_layers=1, t_heads=2, segment=Fraction(2)),
    "htdemucs": dict(channels=48, growth=2, nfft=4096, depth=4, dconv_mode=3, bottom_channels=512, t_layers=5,
                     t_heads=8, t_hidden_scale=4.0, t_dropout=0.02, segment=Fraction(39, 5)),
}
FOUR = ["drums", "bass", "other", "vocals"]
SIX = ["drums", "bass", "other", "vocals", "guitar", "piano"]


def save_random_model(repo: Path, name: str = "htdemucs", size: str = "tiny", sources: list[str] | None = None,
                      seed: int = 0) -> Path:
    """Write ``<name>.yaml`` and one ``<sig>-<sha8>.th`` into ``repo``; return the weights file."""
    import torch
    from demucs.htdemucs import HTDemucs
    from demucs.states import get_state, save_with_checksum

    repo.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    kwargs = dict(SIZES[size], sources=sources or FOUR, samplerate=44100, audio_channels=2)
    model = HTDemucs(**kwargs)
    sig = f"{size[:4]}{seed:04x}"
    package = {"klass": HTDemucs, "args": (), "kwargs": kwargs, "state": get_state(model, None, half=False)}
    save_with_checksum(package, repo / f"{sig}.th")
    (repo / f"{name}.yaml").write_text(f"models: ['{sig}']\n")
    return next(repo.glob(f"{sig}-*.th"))
