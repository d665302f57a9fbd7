"""python manage.py db_restore PATH --database-url URL: restore a db_backup dump into an empty
PostgreSQL database. The dump's SHA-256 is checked against its manifest first; pg_restore runs as one
transaction (an error restores nothing); the manifest's row counts are checked afterwards. Audited
(db.restore) in the restored database."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from backend.audit.services import COMMAND
from backend.backups.services import BackupError, backup_restore
from backend.core.commands import text_option


class Command(BaseCommand):
    help = "Restore a db_backup dump into an empty PostgreSQL database and check it against its manifest."

    def add_arguments(self, parser):
        parser.add_argument("path", type=text_option, help="the dump (its manifest is PATH.manifest.json)")
        parser.add_argument("--database-url", required=True, type=text_option,
                            help="the empty target database, postgres://USER@HOST:PORT/NAME (password: PGPASSWORD)")
        parser.add_argument("--actor", type=text_option,
                            help="username (in the restored database) written in its audit row; default: the system")

    def handle(self, *args, path, database_url, actor=None, **options):
        try:
            result = backup_restore(dump=Path(path), database_url=database_url, actor_username=actor, context=COMMAND)
        except BackupError as error:
            raise CommandError(str(error))
        manifest = result.manifest
        self.stdout.write(
            f"Restored {manifest['dump']['file']} (backup of {manifest['created_at']}) into {result.target} "
            f"in {result.seconds:.1f} s: {sum(result.counts.values())} rows in {len(result.counts)} tables, "
            "every count as in the manifest (plus this restore's audit row)."
        )
        for table in ("patients_patient", "moods_moodrecord", "alerts_alert", "audit_auditevent"):
            if table in result.counts:
                self.stdout.write(f"  {table}: {result.counts[table]}")
        if result.pending_migrations:
            pending = result.pending_migrations
            self.stdout.write(f"The restored database lacks {len(pending)} of this code's migrations "
                              f"({', '.join(pending[:5])}...): run manage.py migrate on it.")
        self.stdout.write("Next: manage.py db_app_role on it (the app role's rights are not in the dump).")
