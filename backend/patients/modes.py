"""The one refusal of a batch that the patient's inference mode does not take (403
`inference_mode_mismatch`): the device API's permission says it before a body is read, and the
ingest services say it again under the patient's lock, where a mode changed at the same moment is seen."""
from backend.core.errors import ApplicationError

from .models import InferenceMode

ENDPOINTS = {
    InferenceMode.ON_DEVICE: "mood batches (POST /api/v1/mood-batches/); this patient's frames stay on the phone",
    InferenceMode.FRAMES: "frame batches (POST /api/v1/frame-batches/)",
}


class InferenceModeMismatch(ApplicationError):
    def __init__(self, *, mode: str):
        super().__init__(f"This patient's inference mode is {mode!r}: send {ENDPOINTS.get(mode, 'nothing')}.",
                         code="inference_mode_mismatch", status_code=403)


def inference_mode_require(*, mode: str, expected: str) -> None:
    """Raise InferenceModeMismatch unless the patient's `mode` is the one a batch of this kind needs."""
    if mode != expected:
        raise InferenceModeMismatch(mode=mode)
