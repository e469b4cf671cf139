"""Accounts and their addresses: sign-up that proves the address, shares that wait for one, and answers that
say the same whoever owns an address.

- Sign-up makes an unverified account and mails a link (``verify``); opening it verifies the address, logs
  the person in and hands them the shares that were waiting for that address. Signing up with an address
  that already has an account answers exactly as for a new one; the mail to that address says what happened.
- Sharing with an address answers the same whether or not it has a verified account: one that has gets the
  track at once and a note; any other address gets an invitation, and the share waits for it.
- Mail goes through Django's e-mail framework: printed to the console unless ``SOUNDFORGE_SMTP_HOST`` is set
  (soundforge/settings.py).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from .live import events
from .models import Activity, Profile, Share, Track, display_name

User = get_user_model()


class VerificationTokens(PasswordResetTokenGenerator):
    """Links that verify an address: valid for PASSWORD_RESET_TIMEOUT, and no more once it is verified."""

    key_salt = "soundforge.accounts.VerificationTokens"

    def _make_hash_value(self, user: Any, timestamp: int) -> str:
        return f"{user.pk}{user.email}{Profile.objects.filter(user=user, email_verified=True).exists()}{timestamp}"


tokens = VerificationTokens()


def _site(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def sign_up(request: HttpRequest, email: str, name: str, password: str) -> None:
    """A new account waiting for its address, and the link that verifies it; for an address that has an
    account already, a mail saying so (and nothing else changes)."""
    site = _site(request)
    if User.objects.filter(username=email).exists():
        send_mail("Your SoundForge account",
                  f"Someone (you, perhaps) tried to sign up at {site} with this address, which already has an "
                  f"account. Log in at {site}/login/ or set a new password at {site}/password-reset/.\n\n"
                  "If it was not you, nothing has changed.",
                  None, [email])
        return
    with transaction.atomic():
        user = User.objects.create_user(username=email, email=email, password=password)
        Profile.objects.filter(user=user).update(display_name=name, email_verified=False)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    send_mail("Verify your SoundForge address",
              f"Welcome, {name}. Open this link to verify your address and start:\n\n"
              f"{site}/verify/{uid}/{tokens.make_token(user)}/\n\n"
              "Tracks shared with this address reach you once it is verified.", None, [email])


def verify(uidb64: str, token: str) -> Any | None:
    """The account a verification link is for, now verified with its waiting shares handed over; None for a
    link that is wrong, used or too old."""
    try:
        user = User.objects.get(pk=force_str(urlsafe_base64_decode(uidb64)), is_active=True)
    except (User.DoesNotExist, ValueError, TypeError, OverflowError):
        return None
    if not tokens.check_token(user, token):
        return None
    with transaction.atomic():
        Profile.objects.update_or_create(user=user, defaults={"email_verified": True})
        claimed = []
        for share in Share.objects.select_for_update().filter(user__isnull=True, email__iexact=user.email):
            if share.track.owner_id == user.pk or Share.objects.filter(track=share.track, user=user).exists():
                share.delete()
                continue
            share.user = user
            share.save(update_fields=["user"])
            claimed.append(share.track)
        if claimed:
            events.library_changed(user.pk)
    return user


def share(request: HttpRequest, track: Track, role: str, user: Any = None, email: str = "") -> tuple[Share, bool]:
    """Share with a verified account (by display name: ``user``), or with an address (``email``): its
    verified account at once, or a share waiting for it. Returns the share and whether it is new."""
    if email:
        user = User.objects.filter(email__iexact=email, is_active=True, profile__email_verified=True).first()
    if user is not None:
        found, created = Share.objects.update_or_create(track=track, user=user,
                                                        defaults={"role": role, "email": email})
    else:
        found = Share.objects.filter(track=track, user__isnull=True, email__iexact=email).first()
        created = found is None
        found = found or Share(track=track, email=email)
        found.role = role
        found.save()
    sharer = display_name(request.user)
    if email:
        if user is not None:
            body = f"{sharer} shared “{track.title}” with you as {role}: {_site(request)}/tracks/{track.uuid}/"
        else:
            body = (f"{sharer} shared “{track.title}” with this address on SoundForge as {role}. Sign up at "
                    f"{_site(request)}/signup/ with this address and verify it to open it.")
        send_mail(f"{sharer} shared “{track.title}” with you", body, None, [email])
    Activity.record(track, Activity.Verb.SHARED, request.user,
                    detail=f"with {found.in_activity} as {role}")
    return found, created
