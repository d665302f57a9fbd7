"""python manage.py api_token <username>: issue a clinician API token (printed once, never stored)."""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from backend.clinician_api.services import api_token_issue


class Command(BaseCommand):
    help = "Issue (or replace) a user's clinician API token; only its digest is kept."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        self.stdout.write(api_token_issue(user=user))
