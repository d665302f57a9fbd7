"""python manage.py second_factor_reset --user USERNAME [--actor USERNAME]"""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from backend.audit.services import COMMAND
from backend.core.commands import ACTOR_HELP, actor_get, text_option
from backend.twofactor.services import second_factor_reset


class Command(BaseCommand):
    help = ("Remove a user's authenticator app and recovery codes (a lost phone): they set up a new app at "
            "their next login. Written in the audit log.")

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, type=text_option, help="The username to reset.")
        parser.add_argument("--actor", default=None, type=text_option, help=ACTOR_HELP)

    def handle(self, *args, user, actor, **options):
        actor = actor_get(actor)
        target = get_user_model().objects.filter(username=user).first()
        if target is None:
            raise CommandError(f"No such user: {user}")
        detail = second_factor_reset(user=target, actor=actor, context=COMMAND)
        self.stdout.write(f"Reset {user}: {detail['totp_devices']} authenticator app(s) and "
                          f"{detail['recovery_devices']} set(s) of recovery codes removed.")
