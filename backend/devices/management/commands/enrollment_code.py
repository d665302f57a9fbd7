"""python manage.py enrollment_code --patient REF [--actor USERNAME] [--ttl-days N]"""
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from backend.audit.services import COMMAND
from backend.core.commands import ACTOR_HELP, actor_get, text_option
from backend.core.errors import ApplicationError
from backend.devices.services import enrollment_code_issue
from backend.patients.models import Patient
from backend.patients.selectors import patient_get_by_reference

MAX_TTL_DAYS = 90


class Command(BaseCommand):
    help = "Issue a one-time device enrollment code for a patient and print it on its own line."

    def add_arguments(self, parser):
        parser.add_argument("--patient", required=True, type=text_option, help="The patient's reference.")
        # --issued-by: the name this option had before --actor; scripts written for it keep working.
        parser.add_argument("--actor", "--issued-by", dest="actor", default=None, type=text_option, help=ACTOR_HELP)
        parser.add_argument("--ttl-days", type=int, default=None,
                            help=f"1 to {MAX_TTL_DAYS}. Default: ENROLLMENT_CODE_TTL_DAYS (7).")

    def handle(self, *args, patient, actor, ttl_days, **options):
        if ttl_days is not None and not 1 <= ttl_days <= MAX_TTL_DAYS:
            raise CommandError(f"--ttl-days must be from 1 to {MAX_TTL_DAYS}.")
        actor = actor_get(actor)
        try:
            patient_row = patient_get_by_reference(reference=patient)
        except Patient.DoesNotExist:
            raise CommandError(f"No patient with reference {patient!r}")
        except Patient.MultipleObjectsReturned:
            raise CommandError(f"Patients of several care teams have the reference {patient!r}; "
                               "issue the code from the dashboard or the admin instead.")
        ttl = timedelta(days=ttl_days) if ttl_days is not None else None
        try:
            _, code = enrollment_code_issue(patient=patient_row, actor=actor, ttl=ttl, context=COMMAND)
        except ApplicationError as error:
            raise CommandError(error.detail)
        self.stdout.write(code)
