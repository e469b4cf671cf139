"""Sign-up, log-in, upload, separation, mix, loop, render and sharing forms."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxValueValidator
from django.utils import timezone

from .models import ApiToken, Comment, Profile, Track, Webhook
from .music import cues
from .ports import contract

User = get_user_model()
EMAIL_WIDGET = {"autocomplete": "email", "autofocus": True}


DISPLAY_NAME_HELP = "What others see of you: 2 to 40 letters, digits, spaces, dots, dashes; never your email."


def clean_display_name(name: str, user: object = None) -> str:
    name = " ".join(name.split())
    if not 2 <= len(name) <= Profile.NAME_MAX or not re.fullmatch(r"[\w .'-]+", name):
        raise forms.ValidationError(DISPLAY_NAME_HELP)
    if Profile.taken(name, user):
        raise forms.ValidationError("Someone already has that name. Choose another.")
    return name


class SignupForm(forms.Form):
    """Email, display name and password; the email is also the username (lower-cased), so it is unique."""

    email = forms.EmailField(max_length=150, widget=forms.EmailInput(attrs=EMAIL_WIDGET))
    display_name = forms.CharField(label="Display name", max_length=Profile.NAME_MAX, help_text=DISPLAY_NAME_HELP,
                                   widget=forms.TextInput(attrs={"autocomplete": "nickname"}))
    password1 = forms.CharField(label="Password", strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(label="Password again", strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean_email(self) -> str:
        # An address with an account already is not refused here: the answer would tell anyone who has an
        # account (accounts.sign_up mails its owner instead).
        return self.cleaned_data["email"].strip().lower()

    def clean_display_name(self) -> str:
        return clean_display_name(self.cleaned_data["display_name"])

    def clean(self) -> dict:
        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", "The two passwords differ.")
        elif p1 and data.get("email"):
            try:
                password_validation.validate_password(p1, User(username=data["email"], email=data["email"]))
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


class DisplayNameForm(forms.Form):
    display_name = forms.CharField(label="Display name", max_length=Profile.NAME_MAX, help_text=DISPLAY_NAME_HELP)

    def __init__(self, *args: object, user: User, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_display_name(self) -> str:
        return clean_display_name(self.cleaned_data["display_name"], self.user)


class LoginForm(AuthenticationForm):
    username = forms.EmailField(label="Email", widget=forms.EmailInput(attrs=EMAIL_WIDGET))

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()


class UploadForm(forms.Form):
    file = forms.FileField(error_messages={
        "required": "Choose an audio file to upload.",
        "empty": "The file is empty.",
    })


FORMAT_LABELS = {"wav": "WAV (16-bit)", "flac": "FLAC (lossless, smaller)", "mp3": "MP3 (320 kbps)"}
STEM_FORMATS = [(fmt, FORMAT_LABELS[fmt]) for fmt in contract.FORMATS]


class SeparationForm(forms.Form):
    """Which model and output format; only models the port says it can load here are accepted."""

    model = forms.ChoiceField()
    format = forms.ChoiceField(choices=STEM_FORMATS, initial="wav")

    def __init__(self, *args: object, models: list[dict], default_model: str = "", **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.models = [{**m, "label": contract.MODEL_LABELS.get(m["name"], "local model")} for m in models]
        self.unavailable = [m for m in self.models if not m["available"]]
        self.fields["model"].choices = [(m["name"], m["name"]) for m in models if m["available"]]
        available = [name for name, _ in self.fields["model"].choices]
        self.fields["model"].initial = default_model if default_model in available else contract.BUILT_IN_MODEL


class MixForm(forms.Form):
    """The mixer's settings as query parameters: ``gain_<stem>`` (0 to 4, linear) and ``pan_<stem>``
    (-1 left to 1 right) for each stem; a stem not named plays at unity gain, centred."""

    def __init__(self, data: object, stem_names: list[str]) -> None:
        super().__init__(data)
        for name in stem_names:
            self.fields[f"gain_{name}"] = forms.FloatField(required=False, min_value=0.0, max_value=4.0)
            self.fields[f"pan_{name}"] = forms.FloatField(required=False, min_value=-1.0, max_value=1.0)
        self.stem_names = stem_names

    def gains(self) -> dict[str, float]:
        return {n: v for n in self.stem_names if (v := self.cleaned_data.get(f"gain_{n}")) is not None}

    def pans(self) -> dict[str, float]:
        return {n: v for n in self.stem_names if (v := self.cleaned_data.get(f"pan_{n}")) is not None}


class LoopForm(MixForm):
    """A loop to export: ``what`` (a stem's name, or ``mix`` with the mixer's levels as MixForm reads them)
    and, for one loop, bars ``first`` to ``last`` (from 1, both included)."""

    def __init__(self, data: object, stem_names: list[str], with_bars: bool = True) -> None:
        super().__init__(data, stem_names)
        self.fields["what"] = forms.ChoiceField(choices=[(n, n) for n in ["mix", *stem_names]], initial="mix",
                                                required=False)
        if with_bars:
            self.fields["first"] = forms.IntegerField(min_value=1, max_value=100_000)
            self.fields["last"] = forms.IntegerField(min_value=1, max_value=100_000)

    def what(self) -> str:
        return self.cleaned_data.get("what") or "mix"


class RenderForm(MixForm):
    """A mix to render as the mixer plays it: MixForm's levels, ``rate`` (0.5 to 1.5), ``semitones`` (-12 to
    12), a loop from ``start`` to ``end`` (seconds; the whole song without them) and a ``format``."""

    def __init__(self, data: object, stem_names: list[str]) -> None:
        super().__init__(data, stem_names)
        self.fields["rate"] = forms.FloatField(required=False, min_value=0.5, max_value=1.5)
        self.fields["semitones"] = forms.IntegerField(required=False, min_value=-12, max_value=12)
        self.fields["start"] = forms.FloatField(required=False, min_value=0.0)
        self.fields["end"] = forms.FloatField(required=False, min_value=0.0)
        self.fields["format"] = forms.ChoiceField(choices=[("wav", "WAV"), ("mp3", "MP3")], required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start") or 0.0, data.get("end")
        if end is not None and end <= start:
            raise forms.ValidationError("The loop must end after it starts.")
        return data

    def options(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"gains": self.gains(), "pans": self.pans(), "rate": data.get("rate") or 1.0,
                "semitones": data.get("semitones") or 0, "start": data.get("start") or 0.0, "end": data.get("end"),
                "format": data.get("format") or "wav"}


class TranscribeForm(forms.Form):
    """Which of a separation's stems to transcribe to MIDI: one or more of those it has that hold notes."""

    def __init__(self, data: object, stem_names: list[str]) -> None:
        super().__init__(data)
        melodic = [n for n in contract.MELODIC_STEMS if n in stem_names]
        choices = ", ".join(melodic) or "none"
        self.fields["stems"] = forms.MultipleChoiceField(
            choices=[(n, n) for n in melodic],
            error_messages={"required": f"Pick the stems to transcribe ({choices}).",
                            "invalid_choice": f"This separation has no %(value)s stem to transcribe: pick from "
                                              f"{choices}."})


class ShareForm(forms.Form):
    """Share with a user by display name or email, as viewer or editor."""

    who = forms.CharField(label="Display name or email", max_length=254)
    role = forms.ChoiceField(choices=[("viewer", "Viewer: see, play, download"),
                                      ("editor", "Editor: also re-run, separate, cancel")], initial="viewer")

    def __init__(self, *args: object, owner: User, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner

    def clean_who(self) -> str:
        """An address (any: one without a verified account gets an invitation, and the answer is the same),
        or the display name of a verified account."""
        who = self.cleaned_data["who"].strip()
        self.cleaned_data["user"], self.cleaned_data["email"] = None, ""
        if "@" in who:
            email = forms.EmailField().clean(who).lower()
            if email == (self.owner.email or "").lower():
                raise forms.ValidationError("That is you: the track is already yours.")
            self.cleaned_data["email"] = email
            return who
        user = User.objects.filter(is_active=True, profile__display_name__iexact=who).first()
        if user is None:
            raise forms.ValidationError("No one has that display name. Share by email address instead.")
        if user.pk == self.owner.pk:
            raise forms.ValidationError("That is you: the track is already yours.")
        if not user.profile.email_verified:
            raise forms.ValidationError("That person has not verified their address yet. Share by email address.")
        self.cleaned_data["user"] = user
        return who


class CrateShareForm(ShareForm):
    """Share a crate with someone who has an account (their display name or address), as viewer or editor.
    No invitations: a crate waits for no one (share its songs by address for that)."""

    role = forms.ChoiceField(choices=[("viewer", "Viewer: open, play, export, practise its songs"),
                                      ("editor", "Editor: also add, remove, reorder and agree settings")],
                             initial="viewer")

    def clean_who(self) -> str:
        who = self.cleaned_data["who"].strip()
        found = User.objects.filter(is_active=True, profile__email_verified=True)
        user = found.filter(**{"email__iexact" if "@" in who else "profile__display_name__iexact": who}).first()
        if user is None:
            raise forms.ValidationError("No one with a verified account has that display name or address.")
        if user.pk == self.owner.pk:
            raise forms.ValidationError("That is you: the crate is already yours.")
        self.cleaned_data["user"] = user
        return who


LINK_EXPIRY = [("", "Never"), ("1", "1 day"), ("7", "7 days"), ("30", "30 days")]


class LinkForm(forms.Form):
    """A read-only link, optionally expiring; listen only (compressed previews, no downloads) unless it allows
    downloads."""

    expires_in_days = forms.TypedChoiceField(label="Expires", choices=LINK_EXPIRY, coerce=int, empty_value=None,
                                             required=False)
    allow_downloads = forms.TypedChoiceField(
        label="Access", coerce=lambda v: v == "yes", initial="no", required=False, empty_value=False,
        widget=forms.RadioSelect,
        choices=[("no", "listen only (preview quality)"), ("yes", "listen and download originals and stems")])

    def link_fields(self) -> dict[str, object]:
        days = self.cleaned_data.get("expires_in_days")
        return {
            "allow_downloads": self.cleaned_data["allow_downloads"],
            "expires": timezone.now() + timedelta(days=days) if days else None,
        }


class CommentForm(forms.Form):
    at = forms.FloatField(min_value=0.0)
    text = forms.CharField(max_length=Comment.MAX_LENGTH, strip=True, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: object, duration: float | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if duration is not None:
            self.fields["at"].validators.append(MaxValueValidator(duration))


class CueForm(forms.Form):
    """A cue's time (seconds, within the song), name and colour (one of Rekordbox's eight)."""

    at = forms.FloatField(min_value=0.0)
    name = forms.CharField(max_length=cues.NAME_LENGTH, strip=True)
    colour = forms.ChoiceField(choices=[(name, name) for name in cues.COLOURS])

    def __init__(self, *args: object, duration: float, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["at"].validators.append(MaxValueValidator(duration))


class DetailsForm(forms.Form):
    """A track's title and tags as a person sets them: each field that is sent changes, the others stay
    (``given``); the title may not be empty."""

    title = forms.CharField(max_length=Track._meta.get_field("title").max_length, strip=True)
    artist = forms.CharField(max_length=Track._meta.get_field("artist").max_length, strip=True, required=False)
    album = forms.CharField(max_length=Track._meta.get_field("album").max_length, strip=True, required=False)
    year = forms.IntegerField(min_value=1000, max_value=2999, required=False)
    genre = forms.CharField(max_length=Track._meta.get_field("genre").max_length, strip=True, required=False)

    def __init__(self, data: Any) -> None:
        super().__init__(data)
        self.sent = [name for name in self.fields if name in data]
        for name in set(self.fields) - set(self.sent):
            del self.fields[name]

    def given(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.sent}


class TokenForm(forms.Form):
    """A personal access token for the API: named, read-only unless it may write."""

    name = forms.CharField(label="Name", max_length=60, strip=True, help_text="What it is for, say “DJ laptop”.")
    scope = forms.ChoiceField(label="Scope", choices=ApiToken.Scope.choices, initial=ApiToken.Scope.READ,
                              widget=forms.RadioSelect)


class WebhookForm(forms.Form):
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https",
                         help_text="A public http(s) address: a POST is sent there, signed, when an event happens.")
    events = forms.MultipleChoiceField(label="Events", choices=[(e, e) for e in Webhook.EVENTS],
                                       initial=["job.succeeded", "job.failed"], widget=forms.CheckboxSelectMultiple)
