"""A person's webhooks: made (the secret shown once), listed with their latest deliveries, removed. The same
rows the account page manages; sending them is tracks/live/webhooks.py's."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status

from ..live import webhooks
from ..models import Webhook
from .auth import signed_in, writer
from .problems import Problem

router = Router(tags=["webhooks"])


class WebhookIn(Schema):
    url: str
    events: list[str] = ["job.succeeded", "job.failed"]


class DeliveryOut(Schema):
    uuid: UUID
    event: str
    status: str
    attempts: int
    response_status: int | None
    error: str
    created: datetime


class WebhookOut(Schema):
    uuid: UUID
    url: str
    events: list[str]
    created: datetime
    secret: str | None  # only in the answer that made it
    deliveries: list[DeliveryOut]  # the latest twenty


def hook_out(hook: Webhook, secret: bool = False) -> dict[str, Any]:
    return {"uuid": hook.uuid, "url": hook.url, "events": hook.events, "created": hook.created,
            "secret": hook.secret if secret else None, "deliveries": list(hook.deliveries.all()[:20])}


@router.get("/webhooks", response=list[WebhookOut], url_name="webhooks")
def hook_list(request: HttpRequest) -> list[dict[str, Any]]:
    return [hook_out(h) for h in Webhook.objects.filter(user=signed_in(request))]


@router.post("/webhooks", response={201: WebhookOut}, url_name="webhook_add")
def hook_add(request: HttpRequest, body: WebhookIn) -> Status:
    """A webhook: its ``secret`` (``whsec_…``) verifies the ``webhook-signature`` of each delivery."""
    writer(request)
    try:
        hook = webhooks.create(signed_in(request), body.url, body.events)
    except ValueError as exc:
        raise Problem(400, str(exc)) from None
    return Status(201, hook_out(hook, secret=True))


@router.delete("/webhooks/{webhook}", response={204: None}, url_name="webhook_delete")
def hook_delete(request: HttpRequest, webhook: UUID) -> Status:
    writer(request)
    get_object_or_404(Webhook, uuid=webhook, user=signed_in(request)).delete()
    return Status(204, None)
