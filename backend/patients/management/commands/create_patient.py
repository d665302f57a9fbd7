"""python manage.py create_patient --ref REF --clinician USERNAME [--timezone TZ] [--display-name NAME] [--consent]
[--inference-mode on_device|frames] [--actor USERNAME]"""
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from backend.audit.services import COMMAND
from backend.core.commands import ACTOR_HELP, actor_get, text_option
from backend.core.errors import ApplicationError
from backend.patients.models import InferenceMode
from backend.patients.services import patient_create


class Command(BaseCommand):
    help = "Create a patient assigned to a clinician and print the patient's id."

    def add_arguments(self, parser):
        parser.add_argument("--ref", required=True, type=text_option, help="Pseudonymous reference (unique).")
        parser.add_argument("--clinician", required=True, action="append", type=text_option,
                            help="Username; repeat for several.")
        parser.add_argument("--timezone", default="UTC", type=text_option, help="IANA time zone, e.g. Europe/Paris.")
        parser.add_argument("--display-name", default="", type=text_option)
        parser.add_argument(
            "--consent", action="store_true",
            help="Record consent to camera monitoring now (by --actor). Without it uploads get 403.",
        )
        parser.add_argument(
            "--inference-mode", default=InferenceMode.ON_DEVICE, choices=InferenceMode.values,
            help="on_device (default): the phone runs the model and sends mood records only; "
                 "frames: the phone uploads frames for the server to analyse.",
        )
        parser.add_argument("--actor", default=None, type=text_option, help=ACTOR_HELP)

    def handle(self, *args, ref, clinician, timezone, display_name, consent, inference_mode, actor, **options):
        actor = actor_get(actor)
        users = list(get_user_model().objects.filter(username__in=clinician))
        missing = set(clinician) - {u.username for u in users}
        if missing:
            raise CommandError(f"No such user(s): {', '.join(sorted(missing))}")
        try:
            patient = patient_create(
                actor=actor, reference=ref, clinicians=users, display_name=display_name, timezone_name=timezone,
                consent=consent, inference_mode=inference_mode, context=COMMAND,
            )
        except ValidationError as error:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items()))
        except ApplicationError as error:
            raise CommandError(error.detail)
        if not consent:
            self.stderr.write("No consent recorded: uploads are refused until it is (--consent, or the admin).")
        self.stdout.write(str(patient.pk))
