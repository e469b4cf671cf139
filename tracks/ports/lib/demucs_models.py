"""Which separation models can load here, and loading one: demucs 4.1's own ``get_model``, from a local demucs
repo (``--models-dir``) or demucs's download, with every way that can fail turned into a message a person can
act on. Asking where a model would come from never imports torch (demucs_repo.py). Imports no Django.
"""

from __future__ import annotations

import os
from typing import Any

from .. import demucs_repo
from ..contract import BUILT_IN, DEMUCS_MODELS, ErrorKind
from ..port_protocol import PortFailure, progress


def list_models(models_dir: str | None) -> dict[str, Any]:
    """Every model this port knows, whether it can load here now (demucs_repo.where), and if not why and
    what to do; ``dsp`` always can."""
    found = [dict(BUILT_IN)]
    for name in DEMUCS_MODELS:
        try:
            source, reason = demucs_repo.where(name, models_dir)
        except PortFailure as exc:
            source, reason = "", exc.message
        found.append({"name": name, "available": not reason, "reason": reason, "source": source})
    return {"models": found, "models_dir": models_dir}


def load_model(name: str, models_dir: str | None) -> Any:
    """The demucs model or bag, from the local repo when given, else by demucs's normal download."""
    from pathlib import Path

    source, reason = demucs_repo.where(name, models_dir)  # in well under 3 s, whatever the network
    if reason:
        raise PortFailure(ErrorKind.MODEL_UNAVAILABLE, f"model {name!r} cannot be loaded here: {reason}")
    if source == "download on first use":
        progress(0.0, f"downloading {name} (first use)")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from demucs.pretrained import get_model
    from demucs.repo import ModelLoadingError

    repo = Path(models_dir) if source == "models folder" else None
    try:
        return get_model(name, repo=repo)
    except ModelLoadingError as exc:
        where = f"in {models_dir}" if repo else "online (no SOUNDFORGE_MODELS_DIR is set)"
        raise PortFailure(
            ErrorKind.MODEL_UNAVAILABLE,
            f"model {name!r} is not available {where}: {exc.args[0] if exc.args else exc}. Put its weights "
            f"({name}.yaml and the <signature>-<sha8>.th files it lists, from demucs's remote repo) into "
            "the folder SOUNDFORGE_MODELS_DIR names.",
        ) from exc
    except SystemExit as exc:  # demucs calls fatal() (sys.exit) for some bad repos
        raise PortFailure(ErrorKind.MODEL_UNAVAILABLE, f"model {name!r} could not be loaded: {exc}") from exc
    except Exception as exc:
        if repo is None and _is_network_error(exc):
            raise PortFailure(
                ErrorKind.MODEL_UNAVAILABLE,
                f"model {name!r} could not be downloaded ({type(exc).__name__}). On a machine without "
                "internet, put its weights in a folder and point SOUNDFORGE_MODELS_DIR at it.",
            ) from exc
        raise PortFailure(ErrorKind.MODEL_UNAVAILABLE, f"the weights of {name!r} are unreadable: "
                                               f"{type(exc).__name__}: {exc}") from exc


def _is_network_error(exc: BaseException) -> bool:
    names = {type(e).__name__ for e in _chain(exc)}
    return bool(names & {"LocalEntryNotFoundError", "ConnectionError", "URLError", "OfflineModeIsEnabled",
                         "MaxRetryError", "HTTPError", "gaierror", "TimeoutError"})


def _chain(exc: BaseException | None) -> list[BaseException]:
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def pick_device(choice: str) -> str:
    import torch

    if choice == "cuda" and not torch.cuda.is_available():
        raise PortFailure(ErrorKind.INVALID_ARGUMENTS, "--device cuda was asked for but torch sees no CUDA device")
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return choice
