"""Reads for frame batches, and the model versions a mood batch may name."""
import functools
import uuid

from django.conf import settings
from django.db.models import QuerySet

from backend.devices.models import Device
from inference.card import model_version

from .models import FrameBatch


def batch_list_for_device(*, device: Device) -> QuerySet[FrameBatch]:
    return FrameBatch.objects.filter(device=device)


def batch_get_for_device(*, device: Device, batch_id: uuid.UUID) -> FrameBatch:
    """A device sees only its own batches; anything else is FrameBatch.DoesNotExist (404)."""
    return batch_list_for_device(device=device).get(batch_id=batch_id)


@functools.cache
def model_versions_published() -> frozenset[str]:
    """The versions of the mood model this server publishes: the served MoodEstimator's (the model at
    MOOD_MODEL_PATH, or the committed one), read from its model card without loading the model. A
    mood batch computed with any other version is refused. Cached for the process: the model only
    changes with a deployment, which restarts it."""
    return frozenset({model_version(settings.MOODWATCH["MODEL_PATH"] or None)})


def batch_request_id(*, batch_pk: int) -> str:
    """The request id of the upload that brought the batch (empty when unknown or deleted)."""
    return FrameBatch.objects.filter(pk=batch_pk).values_list("request_id", flat=True).first() or ""
