"""Webhooks: a person's URLs told of their jobs' ends (and new tracks), signed as Standard Webhooks sign
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>``
keyed by the ``whsec_`` secret), sent by a worker, never by the request that caused them.

``announce`` records a ``Delivery`` per subscribed webhook and queues it; ``deliver`` (an RQ job) claims it,
refuses a URL that resolves to a loopback, private, link-local or reserved address (unless
SOUNDFORGE_WEBHOOK_ALLOW_PRIVATE), POSTs it (no redirects followed) and on failure leaves it pending for
the next try after SOUNDFORGE_WEBHOOK_BACKOFF_S; ``due`` (the recovery loop, every few seconds) queues
those whose time has come. After the last try it is failed; the account page lists every delivery."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import django_rq
import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import Delivery, Webhook
from ..ports import contract

logger = logging.getLogger(__name__)
TIMEOUT_S = 10
CLAIM_S = 60  # a claimed delivery is the claimer's this long (then due again, should its worker die)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


class Refused(ValueError):
    """A webhook URL this server will not call."""


def check_url(url: str) -> None:
    """Refused unless every address the host resolves to is public (or the operator allows private ones)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("A webhook URL is http:// or https:// with a host.")
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return
    try:
        found = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)}
    except (socket.gaierror, UnicodeError):
        raise Refused(f"{parts.hostname} does not resolve.") from None
    for address in found:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global or ip.is_multicast:
            raise Refused(f"{parts.hostname} resolves to {address}, a loopback, private or reserved address: "
                          "webhooks go to public addresses only.")


def create(user: Any, url: str, events: list[str]) -> Webhook:
    """A webhook for these events to this URL (ValueError in words when it cannot be: the page's and the
    API's)."""
    unknown = sorted(set(events) - set(Webhook.EVENTS))
    if unknown or not events:
        raise ValueError("events: some of " + ", ".join(Webhook.EVENTS))
    if len(url) > 500:
        raise ValueError("url: at most 500 characters.")
    try:
        check_url(url)
    except Refused as exc:
        raise ValueError(str(exc)) from None
    if Webhook.objects.filter(user=user).count() >= 10:
        raise ValueError("Ten webhooks at most: remove one first.")
    return Webhook.objects.create(user=user, url=url, events=sorted(set(events)), secret=Webhook.new_secret())


def announce(event: str, data: dict[str, Any], user_ids: set[int]) -> None:
    """Record and queue a delivery of this event to each of these people's webhooks that want it."""
    hooks = [h for h in Webhook.objects.filter(user_id__in=user_ids) if event in h.events]
    for hook in hooks:
        delivery = Delivery.objects.create(webhook=hook, event=event, next_try=timezone.now(), payload={
            "type": event, "timestamp": timezone.now().isoformat(), "data": data})
        transaction.on_commit(lambda pk=delivery.pk: _queue(pk))


def _queue(pk: int) -> None:
    try:
        django_rq.get_queue(contract.ANALYSIS_QUEUE).enqueue(deliver, pk, job_timeout=TIMEOUT_S * 3, at_front=True)
    except Exception:  # Redis away: the recovery loop queues it when it is back
        logger.exception("could not queue webhook delivery %s", pk)


def _claim(pk: int) -> Delivery | None:
    now = timezone.now()
    claimed = Delivery.objects.filter(pk=pk, status=Delivery.Status.PENDING, next_try__lte=now).update(
        next_try=now + timedelta(seconds=CLAIM_S))
    return Delivery.objects.select_related("webhook").filter(pk=pk).first() if claimed else None


def deliver(pk: int) -> None:
    """Send one delivery (an RQ job): delivered on a 2xx; otherwise pending again for its next try, or failed
    after the last one. A refused URL fails at once."""
    delivery = _claim(pk)
    if delivery is None:
        return
    hook = delivery.webhook
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    stamp = int(time.time())
    delivery.attempts += 1
    try:
        check_url(hook.url)
        answer = requests.post(hook.url, data=body, timeout=TIMEOUT_S, allow_redirects=False, headers={
            "Content-Type": "application/json", "User-Agent": "SoundForge-Webhooks/1",
            "webhook-id": str(delivery.uuid), "webhook-timestamp": str(stamp),
            "webhook-signature": sign(hook.secret, str(delivery.uuid), stamp, body)})
        delivery.response_status = answer.status_code
        error = "" if 200 <= answer.status_code < 300 else f"answered {answer.status_code}"
    except Refused as exc:
        delivery.status, delivery.error, delivery.finished = Delivery.Status.FAILED, str(exc)[:300], timezone.now()
        delivery.save()
        return
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
    backoff = settings.WEBHOOK_BACKOFF_S
    if not error:
        delivery.status, delivery.error, delivery.finished = Delivery.Status.DELIVERED, "", timezone.now()
    elif delivery.attempts > len(backoff):
        delivery.status, delivery.error, delivery.finished = Delivery.Status.FAILED, error, timezone.now()
    else:
        delivery.error = error
        delivery.next_try = timezone.now() + timedelta(seconds=backoff[delivery.attempts - 1])
    delivery.save()


def due() -> int:
    """Queue the pending deliveries whose time has come (retries, and any whose first queueing was lost)."""
    pks = list(Delivery.objects.filter(status=Delivery.Status.PENDING, next_try__lte=timezone.now())
               .values_list("pk", flat=True)[:500])
    for pk in pks:
        _queue(pk)
    return len(pks)
