"""Signing up, verifying an address, logging in (rate-limited) and the account page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET
from django_ratelimit.core import is_ratelimited
from django_ratelimit.decorators import ratelimit

from .. import accounts, limits
from ..forms import DisplayNameForm, LoginForm, SignupForm
from ..models import Profile, display_name


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
@require_GET
def signup_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "registration/signup_sent.html", {"email": request.session.get("signed_up", "")})


@login_not_required
@require_GET
def verify(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    user = accounts.verify(uidb64, token)
    if user is None:
        return render(request, "registration/verify_failed.html", status=400)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(request, "Your address is verified. Tracks shared with it are in your library.")
    return redirect("library")


def account(request: HttpRequest) -> HttpResponse:
    """The display name others see, changed here."""
    form = DisplayNameForm(request.POST or None, user=request.user,
                           initial={"display_name": display_name(request.user)})
    if request.method == "POST" and form.is_valid():
        name = form.cleaned_data["display_name"]
        Profile.objects.update_or_create(user=request.user, defaults={"display_name": name})
        messages.success(request, f"Others now see you as “{name}”.")
        return redirect("account")
    return render(request, "registration/account.html", {"form": form})


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
