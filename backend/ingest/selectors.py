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


# --- coverage reads for the clinicians' dashboard (added with issue 4) -----------------------------

def batch_overview_by_patient(*, patient_ids, since):
    """Per patient: last upload (ever), and frames received / processed / with a face since `since`."""
    from django.db.models import Max, Q, Sum

    recent = Q(received_at__gte=since)
    done = recent & Q(status=FrameBatch.Status.DONE)
    return (
        FrameBatch.objects.filter(patient_id__in=patient_ids)
        .order_by()
        .values("patient_id")
        .annotate(
            last_upload=Max("received_at"),
            frames=Sum("frame_count", filter=recent),
            frames_processed=Sum("frame_count", filter=done),
            frames_with_face=Sum("frames_with_face", filter=done),
        )
    )
