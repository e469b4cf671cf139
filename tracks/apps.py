from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_save


def give_a_display_name(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    """Every new account gets a profile; sign-up then sets the name its person chose."""
    from .models import Profile

    if created and not raw:
        Profile.objects.get_or_create(user=instance,
                                      defaults={"display_name": Profile.free_name(instance.email or instance.username)})


def close_its_sockets(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Logging out closes every page the session has open (before the session is flushed)."""
    from .live import events

    events.session_ended(request.session.session_key)


class TracksConfig(AppConfig):
    name = "tracks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_save.connect(give_a_display_name, sender=settings.AUTH_USER_MODEL, dispatch_uid="display-name")
        user_logged_out.connect(close_its_sockets, dispatch_uid="close-sockets")
