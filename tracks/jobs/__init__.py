"""The work the workers do, as jobs: one row (``models.Job``) each, queued on RQ by its primary key.

kinds.py      every kind of job in one entry: queue, body, time limit, who may start it, quota, panel, facts
queueing.py   enqueue, cancel, recover: the same for every kind
running.py    in the worker: claim the row, run the kind's body, run its port and record the outcome
analysis.py, separation.py, render.py, transcription.py: the bodies
models_available.py: which separation models can load here, asked of the separation port, kept in Redis
"""

from __future__ import annotations

from .kinds import KINDS, QUEUES, Kind, long_job_timeout, may_render
from .models_available import check_models, models_stale, separation_models
from .queueing import cancel, enqueue, recover
from .running import port_env, port_limits, run, run_and_record

# The RQ functions of jobs queued before every kind ran through ``run`` (it reads the kind off the row).
analyse_track = separate_track = render_mix = transcribe_stems = run

__all__ = ["KINDS", "QUEUES", "Kind", "cancel", "check_models", "enqueue", "long_job_timeout", "may_render",
           "models_stale", "port_env", "port_limits", "recover", "run", "run_and_record",
           "separation_models"]
