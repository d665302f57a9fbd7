"""python manage.py enrollment_code --patient REF [--issued-by USERNAME] [--ttl-days N]"""
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from backend.devices.services import enrollment_code_issue
from backend.patients.models import Patient
from backend.patients.selectors import patient_get_by_reference


class Command(BaseCommand):
    help = "Issue a one-time device enrollment code for a patient and print it on its own line."

    def add_arguments(self, parser):
        parser.add_argument("--patient", required=True, help="The patient's reference.")
        parser.add_argument("--issued-by", default=None, help="Username recorded as the issuer.")
        parser.add_argument("--ttl-days", type=int, default=None, help="Default: ENROLLMENT_CODE_TTL_DAYS (7).")

    def handle(self, *args, patient, issued_by, ttl_days, **options):
        try:
            patient_row = patient_get_by_reference(reference=patient)
        except Patient.DoesNotExist:
            raise CommandError(f"No patient with reference {patient!r}")
        issuer = None
        if issued_by:
            issuer = get_user_model().objects.filter(username=issued_by).first()
            if issuer is None:
                raise CommandError(f"No such user: {issued_by}")
        ttl = timedelta(days=ttl_days) if ttl_days is not None else None
        _, code = enrollment_code_issue(patient=patient_row, issued_by=issuer, ttl=ttl)
        self.stdout.write(code)
