"""Which separation models can load here: the separation port's to say, kept in Redis for every process."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import django_rq
import redis
from django.conf import settings

from ..ports import contract
from ..ports.host import runner
from .running import port_env

logger = logging.getLogger("tracks.jobs")

# Which separation models can load here is the separation port's to say (tracks/ports/demucs_repo.py: the
# models folder, demucs's download caches, a download that can start), and asking takes a process and up to
# a few seconds of network: never in a page's request. A worker asks (check_models) and keeps the answer in
# Redis for every process; `manage.py recover` asks again when it is MODELS_FRESH_S old, a page that finds
# none queues the question and offers the built-in engine meanwhile.
MODELS_FRESH_S = 300
MODELS_KEEP_S = 3600
MODELS_ASKED_S = 60


def _redis() -> Any:
    return django_rq.get_connection(contract.ANALYSIS_QUEUE)


def _models_key() -> str:
    return f"soundforge:separation-models:{settings.MODELS_DIR}"


def separation_models() -> list[dict[str, Any]]:
    """The separation models, each with whether it can load here now and, if not, why and what to do: the
    last check's answer. Before there is one: the built-in engine, the others being checked (queued)."""
    try:
        known = _stored_models()
    except (redis.ConnectionError, redis.TimeoutError):
        known = None
    if _stale(known):
        _ask_about_models()
    if known is not None:
        return known["models"]
    checking = "being checked; reload the page in a moment"
    return [contract.BUILT_IN, *({"name": name, "available": False, "reason": checking, "source": ""}
                        for name in contract.DEMUCS_MODELS)]


def _stored_models() -> dict[str, Any] | None:
    """The last check's answer as check_models stored it ({"checked": unix time, "models": [...]}), if any."""
    raw = _redis().get(_models_key())
    return json.loads(raw) if raw else None


def _stale(known: dict[str, Any] | None) -> bool:
    return known is None or time.time() - known["checked"] > MODELS_FRESH_S


def _ask_about_models() -> None:
    """Queue check_models once, however many pages ask meanwhile."""
    try:
        if _redis().set(f"{_models_key()}:asked", 1, nx=True, ex=MODELS_ASKED_S):
            django_rq.get_queue(contract.ANALYSIS_QUEUE).enqueue(check_models, job_timeout=120)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        logger.warning("could not queue a check of the separation models: %s", exc)


def check_models() -> list[dict[str, Any]]:
    """Ask the separation port which models can load here now, and keep the answer for every process."""
    try:
        result = runner.run_port(runner.port("demucs_separate"), ["--list-models"], timeout=60,
                                 python=settings.PORT_PYTHON or None, env=port_env())
    except runner.PortError as exc:
        logger.warning("could not list separation models: %s", exc.message)
        models = [contract.BUILT_IN]
    else:
        models = result.data["models"]
    connection = _redis()
    connection.set(_models_key(), json.dumps({"checked": time.time(), "models": models}), ex=MODELS_KEEP_S)
    connection.delete(f"{_models_key()}:asked")
    return models


def models_stale() -> bool:
    return _stale(_stored_models())
