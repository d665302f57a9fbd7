"""python manage.py demo_clinician: an idempotent DEMO login for `make run` (the demo app: never in production)."""
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

USERNAME = "demo"
PASSWORD = "demo-clinician"
EMAIL = "demo@moodwatch.invalid"  # alert e-mails of the demo go to the console (the development backend)


class Command(BaseCommand):
    help = "Create (or reset) the DEMO clinician account used by `make run`."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("Refusing to create a demo login with DEBUG off.")
        user, _ = get_user_model().objects.get_or_create(username=USERNAME)
        user.email = EMAIL
        user.set_password(PASSWORD)
        user.save()
        self.stdout.write(f"DEMO clinician login (development only): username={USERNAME} password={PASSWORD}")
