"""The forms' own rules (tracks/forms.py), without a view: what each accepts, how it normalises, and the
message a person reads for what it refuses."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.conftest import PASSWORD
from tracks import forms
from tracks.models import Profile
from tracks.ports import contract

pytestmark = pytest.mark.django_db


def signup(**fields: str) -> forms.SignupForm:
    data = {"email": "New@Example.com ", "display_name": "  New   Person ", "password1": PASSWORD,
            "password2": PASSWORD, **fields}
    return forms.SignupForm(data)


def test_sign_up_lowercases_the_address_and_squeezes_the_name() -> None:
    form = signup()
    assert form.is_valid(), form.errors
    assert form.cleaned_data["email"] == "new@example.com"
    assert form.cleaned_data["display_name"] == "New Person"


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"password2": "something-else-entirely"}, "password2", "The two passwords differ."),
    ({"password1": "new@example.com", "password2": "new@example.com"}, "password1", "too similar"),
    ({"password1": "short", "password2": "short"}, "password1", "too short"),
    ({"display_name": "x"}, "display_name", "2 to 40"),
    ({"display_name": "<script>"}, "display_name", "letters, digits"),
    ({"email": "not-an-address"}, "email", "valid email"),
])
def test_sign_up_says_what_is_wrong_under_the_field(fields: dict, field: str, message: str) -> None:
    form = signup(**fields)
    assert not form.is_valid()
    assert message in " ".join(form.errors[field])


def test_a_display_name_is_unique_regardless_of_case_but_ones_own_is_kept(alice) -> None:
    Profile.objects.filter(user=alice).update(display_name="Alice")
    assert "already has that name" in " ".join(signup(display_name="ALICE").errors["display_name"])
    assert forms.DisplayNameForm({"display_name": "alice"}, user=alice).is_valid()


def test_share_by_address_or_by_the_name_of_a_verified_account(alice, bob) -> None:
    Profile.objects.filter(user=bob).update(display_name="Bob B", email_verified=True)
    by_name = forms.ShareForm({"who": "bob b", "role": "editor"}, owner=alice)
    assert by_name.is_valid() and by_name.cleaned_data["user"] == bob and by_name.cleaned_data["email"] == ""
    by_address = forms.ShareForm({"who": " Someone@Else.org ", "role": "viewer"}, owner=alice)
    assert by_address.is_valid() and by_address.cleaned_data["email"] == "someone@else.org"
    assert by_address.cleaned_data["user"] is None


@pytest.mark.parametrize(("who", "message"), [
    ("alice@example.com", "That is you"),
    ("Nobody Here", "No one has that display name"),
    ("Bob B", "not verified"),
])
def test_share_refuses_oneself_strangers_and_the_unverified(alice, bob, who: str, message: str) -> None:
    Profile.objects.filter(user=bob).update(display_name="Bob B", email_verified=False)
    form = forms.ShareForm({"who": who, "role": "viewer"}, owner=alice)
    assert not form.is_valid()
    assert message in " ".join(form.errors["who"])


def test_share_refuses_a_role_it_does_not_know(alice) -> None:
    assert "role" in forms.ShareForm({"who": "x@y.org", "role": "owner"}, owner=alice).errors


def test_the_separation_form_offers_only_models_that_load_here() -> None:
    models = [{"name": contract.BUILT_IN_MODEL, "available": True, "reason": "", "source": "built in"},
              {"name": "htdemucs", "available": True, "reason": "", "source": "models folder"},
              {"name": "htdemucs_ft", "available": False, "reason": "no weights", "source": ""}]
    form = forms.SeparationForm(models=models, default_model="htdemucs_ft")
    assert form.fields["model"].initial == contract.BUILT_IN_MODEL  # the default cannot load: the built-in one
    assert [m["name"] for m in form.unavailable] == ["htdemucs_ft"]
    assert forms.SeparationForm({"model": "htdemucs", "format": "flac"}, models=models).is_valid()
    assert not forms.SeparationForm({"model": "htdemucs_ft", "format": "wav"}, models=models).is_valid()
    assert not forms.SeparationForm({"model": "htdemucs", "format": "ogg"}, models=models).is_valid()
    assert [value for value, _ in form.fields["format"].choices] == list(contract.FORMATS)


def test_the_mix_takes_gains_and_pans_in_range_for_known_stems_only() -> None:
    form = forms.MixForm({"gain_drums": "0.5", "pan_bass": "-1", "gain_kazoo": "9"}, ["drums", "bass"])
    assert form.is_valid()
    assert form.gains() == {"drums": 0.5} and form.pans() == {"bass": -1.0}
    assert not forms.MixForm({"gain_drums": "4.5"}, ["drums"]).is_valid()
    assert not forms.MixForm({"pan_drums": "1.5"}, ["drums"]).is_valid()


def test_a_link_expires_after_the_days_chosen_or_never() -> None:
    never = forms.LinkForm({"expires_in_days": "", "allow_downloads": "no"})
    assert never.is_valid() and never.link_fields() == {"allow_downloads": False, "expires": None}
    week = forms.LinkForm({"expires_in_days": "7", "allow_downloads": "yes"})
    assert week.is_valid()
    fields = week.link_fields()
    assert fields["allow_downloads"] is True
    from django.utils import timezone

    assert 6.99 < (fields["expires"] - timezone.now()).total_seconds() / 86400 <= 7
    assert not forms.LinkForm({"expires_in_days": "3"}).is_valid()


def test_a_comment_is_placed_within_the_song() -> None:
    assert forms.CommentForm({"at": "12.5", "text": " a note "}, duration=20.0).is_valid()
    assert not forms.CommentForm({"at": "25", "text": "after the end"}, duration=20.0).is_valid()
    assert not forms.CommentForm({"at": "-1", "text": "before it"}, duration=20.0).is_valid()
    assert not forms.CommentForm({"at": "1", "text": "   "}, duration=20.0).is_valid()


def test_log_in_accepts_the_address_in_any_case(alice) -> None:
    from django.test import RequestFactory

    request = RequestFactory().post("/login/")
    form = forms.LoginForm(request, data={"username": "ALICE@example.com", "password": PASSWORD})
    assert form.is_valid(), form.errors
    assert form.get_user() == get_user_model().objects.get(pk=alice.pk)
