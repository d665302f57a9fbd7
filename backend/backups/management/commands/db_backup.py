"""python manage.py db_backup --out PATH: a consistent pg_dump (custom format) of the app's database,
with its manifest at PATH.manifest.json (row counts per table from the same snapshot, SHA-256,
migrations, model version). Refuses a PATH that exists. Audited (db.backup)."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from backend.audit.services import COMMAND
from backend.backups.services import BackupError, backup_create
from backend.core.commands import ACTOR_HELP, actor_get, text_option


class Command(BaseCommand):
    help = "Back up the database: pg_dump --format=custom to PATH, its manifest to PATH.manifest.json."

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, type=text_option,
                            help="the dump's path; must not exist (nor PATH.manifest.json)")
        parser.add_argument("--actor", type=text_option, help=ACTOR_HELP)

    def handle(self, *args, out, actor=None, **options):
        try:
            result = backup_create(out=Path(out), actor=actor_get(actor), context=COMMAND)
        except BackupError as error:
            raise CommandError(str(error))
        manifest = result.manifest
        self.stdout.write(
            f"Backed up {manifest['database']}: {sum(manifest['tables'].values())} rows in {len(manifest['tables'])} "
            f"tables, {manifest['dump']['bytes']} bytes in {result.seconds:.1f} s.\n"
            f"  dump:     {result.path}\n  manifest: {result.manifest_path}\n  sha256:   {manifest['dump']['sha256']}"
        )
