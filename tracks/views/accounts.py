"""Signing up, verifying an address, logging in (rate-limited) and the account page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe
from django_ratelimit.core import is_ratelimited
from django_ratelimit.decorators import ratelimit

from .. import accounts, limits
from ..forms import DisplayNameForm, LoginForm, SignupForm, TokenForm, WebhookForm
from ..live import webhooks
from ..models import ApiToken, Profile, Webhook, display_name


@login_not_required
@ratelimit(key="ip", rate=limits.signup_rate, method="POST", block=False)
def signup(request: HttpRequest) -> HttpResponse:
    """Sign up: the same answer for every address (accounts.py); the mail says what happened."""
    if request.user.is_authenticated:
        return redirect("library")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and getattr(request, "limited", False):
        form.add_error(None, "Too many sign-ups from this address. Try again later.")
        return render(request, "registration/signup.html", {"form": form}, status=429)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        accounts.sign_up(request, data["email"], data["display_name"], data["password1"])
        request.session["signed_up"] = data["email"]
        return redirect("signup-sent")
    return render(request, "registration/signup.html", {"form": form})


@login_not_required
@require_safe
def signup_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "registration/signup_sent.html", {"email": request.session.get("signed_up", "")})


@login_not_required
@require_safe
def verify(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    user = accounts.verify(uidb64, token)
    if user is None:
        return render(request, "registration/verify_failed.html", status=400)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(request, "Your address is verified. Tracks shared with it are in your library.")
    return redirect("library")


def account(request: HttpRequest) -> HttpResponse:
    """The display name others see, changed here; the API's tokens and webhooks."""
    form = DisplayNameForm(request.POST or None, user=request.user,
                           initial={"display_name": display_name(request.user)})
    if request.method == "POST" and form.is_valid():
        name = form.cleaned_data["display_name"]
        Profile.objects.update_or_create(user=request.user, defaults={"display_name": name})
        messages.success(request, f"Others now see you as “{name}”.")
        return redirect("account")
    return account_page(request, form=form)


def account_page(request: HttpRequest, status: int = 200, **context: Any) -> HttpResponse:
    user = request.user
    if made := request.session.pop(NEW_TOKEN, None):
        context.update(new_token_row=user.api_tokens.filter(pk=made[0]).first(), new_token=made[1])
    return render(request, "registration/account.html", {
        "form": DisplayNameForm(user=user, initial={"display_name": display_name(user)}),
        "token_form": TokenForm(), "webhook_form": WebhookForm(),
        "tokens": user.api_tokens.filter(revoked__isnull=True),
        "webhooks": user.webhooks.prefetch_related("deliveries"),
        **context}, status=status)


@require_POST
def token_add(request: HttpRequest) -> HttpResponse:
    """A new token, shown on the next page and never again (only its SHA-256 is kept)."""
    form = TokenForm(request.POST)
    if not form.is_valid():
        return account_page(request, 400, token_form=form)
    token, secret = ApiToken.issue(request.user, form.cleaned_data["name"], form.cleaned_data["scope"])
    # Shown by the page this redirects to, once: held in the session (on the server) until that page reads
    # it, so a reload neither shows it again nor makes another token.
    request.session[NEW_TOKEN] = [token.pk, secret]
    return redirect("account")


NEW_TOKEN = "new_api_token"  # noqa: S105 (a session key, not a secret)


@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    token.revoke()
    messages.success(request, f"Revoked the token “{token.name}”: it no longer works.")
    return redirect("account")


@require_POST
def webhook_add(request: HttpRequest) -> HttpResponse:
    form = WebhookForm(request.POST)
    if form.is_valid():
        try:
            hook = webhooks.create(request.user, form.cleaned_data["url"], form.cleaned_data["events"])
        except ValueError as exc:
            form.add_error("url", str(exc))
        else:
            messages.success(request, f"Events now go to {hook.url}.")
            return redirect("account")
    return account_page(request, 400, webhook_form=form)


@require_POST
def webhook_delete(request: HttpRequest, webhook_uuid: str) -> HttpResponse:
    hook = get_object_or_404(Webhook, uuid=webhook_uuid, user=request.user)
    hook.delete()
    messages.success(request, f"Events no longer go to {hook.url}.")
    return redirect("account")


class SoundForgeLoginView(LoginView):
    """Log in; at most LOGIN_RATE attempts per client address whatever the account (django-axes also locks
    an account at an address after repeated failures)."""

    form_class = LoginForm
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if is_ratelimited(request, group="login", key="ip", rate=limits.login_rate(), method="POST", increment=True):
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, "Too many log-in attempts from this address. Try again later.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)
