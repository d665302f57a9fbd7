"""What the management commands that touch patient data share: the audited actor, and text options
that PostgreSQL can store."""
import argparse

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import CommandError

ACTOR_HELP = ("Username of the person on whose behalf the command runs, written in the audit log. "
              "Without it the audit log names the system as the actor.")


def actor_get(username: str | None) -> AbstractBaseUser | None:
    """The --actor user; None (the system) when not given; a CommandError for an unknown name."""
    if not username:
        return None
    actor = get_user_model().objects.filter(username=username, is_active=True).first()
    if actor is None:
        raise CommandError(f"No such active user: {username}")
    return actor


def text_option(value: str) -> str:
    """argparse `type` of every text option: a NUL character is refused as a usage error, as the web
    doors refuse it (NulCharacterMiddleware), since PostgreSQL text cannot hold one and the query
    would fail with a traceback."""
    if "\x00" in value:
        raise argparse.ArgumentTypeError("must not contain a NUL character")
    return value
