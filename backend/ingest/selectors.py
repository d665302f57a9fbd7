"""Reads for frame batches."""
import uuid

from django.db.models import QuerySet

from backend.devices.models import Device

from .models import FrameBatch


def batch_list_for_device(*, device: Device) -> QuerySet[FrameBatch]:
    return FrameBatch.objects.filter(device=device)


def batch_get_for_device(*, device: Device, batch_id: uuid.UUID) -> FrameBatch:
    """A device sees only its own batches; anything else is FrameBatch.DoesNotExist (404)."""
    return batch_list_for_device(device=device).get(batch_id=batch_id)


def batch_request_id(*, batch_pk: int) -> str:
    """The request id of the upload that brought the batch (empty when unknown or deleted)."""
    return FrameBatch.objects.filter(pk=batch_pk).values_list("request_id", flat=True).first() or ""
