"""Sign-up, log-in and upload forms."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import AuthenticationForm

User = get_user_model()
EMAIL_WIDGET = {"autocomplete": "email", "autofocus": True}


class SignupForm(forms.Form):
    """Email and password; the email is also the username (lower-cased), so it is unique."""

    email = forms.EmailField(max_length=150, widget=forms.EmailInput(attrs=EMAIL_WIDGET))
    password1 = forms.CharField(label="Password", strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(label="Password again", strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(username=email).exists():
            raise forms.ValidationError("An account with this email already exists. Log in instead.")
        return email

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

    def save(self) -> User:
        email = self.cleaned_data["email"]
        return User.objects.create_user(username=email, email=email, password=self.cleaned_data["password1"])


class LoginForm(AuthenticationForm):
    username = forms.EmailField(label="Email", widget=forms.EmailInput(attrs=EMAIL_WIDGET))

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()


class UploadForm(forms.Form):
    file = forms.FileField(error_messages={
        "required": "Choose an audio file to upload.",
        "empty": "The file is empty.",
    })
