"""python manage.py db_app_role: create or update the restricted PostgreSQL role the app runs under.

Run it as the database owner, after `migrate` (docker-compose.yml's migrate service does). The role
and its password come from APP_DATABASE_URL, or --role and --password. With --sql it only prints
the statements, for a DBA to run with psql where the owner may not create roles.
"""
import environ
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from backend.core.dbroles import app_role_grant, app_role_script


class Command(BaseCommand):
    help = "Create or update the app's PostgreSQL role (row rights only, no TRUNCATE, owns nothing)."

    def add_arguments(self, parser):
        parser.add_argument("--role", help="role name (default: the user of APP_DATABASE_URL)")
        parser.add_argument("--password", help="its password (default: the password of APP_DATABASE_URL)")
        parser.add_argument("--sql", action="store_true", help="print the SQL instead of running it")

    def handle(self, *args, role=None, password=None, sql=False, **options):
        if connection.vendor != "postgresql":
            raise CommandError("db_app_role is for PostgreSQL only.")
        if settings.APP_DATABASE_URL:
            url = environ.Env.db_url_config(settings.APP_DATABASE_URL)
            role, password = role or url["USER"], password or url["PASSWORD"]
        if not role or not password:
            raise CommandError("Give the role and its password: APP_DATABASE_URL, or --role and --password.")
        if role == connection.settings_dict["USER"]:
            raise CommandError("The app role must not be the owner role this command connects as.")
        if sql:
            self.stdout.write(app_role_script(role=role, password=password, database=connection.settings_dict["NAME"]))
            return
        with transaction.atomic():
            app_role_grant(role=role, password=password)
        self.stdout.write(f"Role {role}: row rights on the tables of {connection.settings_dict['NAME']}, no TRUNCATE.")
