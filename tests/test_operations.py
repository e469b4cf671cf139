"""What operators get: the RQ dashboard and the admin for staff only, and log lines that name their job."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.conftest import worker_env
from tests.test_jobs import upload
from tracks.models import Job

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_the_rq_dashboard_and_admin_are_for_staff_only(alice_client: Client) -> None:
    staff = get_user_model().objects.create_user("ops@example.com", "ops@example.com", "x", is_staff=True)
    ops = Client()
    ops.force_login(staff)
    assert ops.get("/admin/rq/").status_code == 200
    assert "analysis" in ops.get("/admin/rq/").content.decode()
    for client in (alice_client, Client()):
        for url in ("/admin/rq/", "/admin/"):
            response = client.get(url)
            assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_logs_json_lines_that_name_the_job(alice_client: Client, c_major_wav: Path) -> None:
    track = upload(alice_client, c_major_wav)
    job = Job.objects.get(track=track)
    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), "rqworker", "analysis", "--burst"],
                          env={**worker_env(), "SOUNDFORGE_LOG_FORMAT": "json"}, capture_output=True, text=True,
                          timeout=120)
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    ours = [line for line in lines if line["logger"] == "tracks.jobs"]
    assert ours and all(line["job"] == str(job.uuid) for line in ours)
    assert any("finished as succeeded" in line["message"] for line in ours)
    assert {"time", "level", "process"} <= set(ours[0])


def test_a_bad_log_format_is_refused() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), "check"], capture_output=True, text=True,
                          env={**worker_env(), "SOUNDFORGE_LOG_FORMAT": "xml"})
    assert done.returncode != 0
    assert "SOUNDFORGE_LOG_FORMAT must be plain or json" in done.stderr
