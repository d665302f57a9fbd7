"""factory_boy factories for the backend's models."""
import factory
from django.contrib.auth import get_user_model
from django.utils import timezone as dj_timezone

from backend.devices import tokens
from backend.devices.models import Device
from backend.patients.models import Patient


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"clinician{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@hospital.example")
    password = factory.django.Password("correct horse battery staple")


class PatientFactory(factory.django.DjangoModelFactory):
    """An active patient with recorded consent (override consent_recorded_at=None for none)."""

    class Meta:
        model = Patient
        skip_postgeneration_save = True

    reference = factory.Sequence(lambda n: f"P-{n:05d}")
    display_name = factory.Sequence(lambda n: f"Patient {n}")
    timezone = "Europe/Paris"
    consent_recorded_at = factory.LazyFunction(dj_timezone.now)
    consent_recorded_by = factory.SubFactory(UserFactory)
    is_active = True

    @factory.post_generation
    def clinicians(self, create, extracted, **kwargs):
        if create and extracted:
            self.clinicians.set(extracted)


class DeviceFactory(factory.django.DjangoModelFactory):
    """A device; its clear bearer token is left on `device.token` (never stored)."""

    class Meta:
        model = Device

    patient = factory.SubFactory(PatientFactory)
    label = "Pixel 7"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        lookup_id, token = tokens.device_token_generate()
        device = super()._create(
            model_class, *args, token_lookup_id=lookup_id, token_digest=tokens.device_token_digest(token), **kwargs
        )
        device.token = token
        return device
