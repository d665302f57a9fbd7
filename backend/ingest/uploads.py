"""Validation of a frame-batch upload: everything the device could get wrong, found before storing.

Returns a ValidUpload or raises InputInvalid listing every problem (field, code, detail, index).
"""
import io
import re
import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from backend.core.errors import FieldError, InputInvalid
from backend.core.timestamps import device_timestamp_parse

CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}
JPEG_START_OF_SCAN = 0xDA


@dataclass(frozen=True)
class ValidFrame:
    data: bytes
    content_type: str
    captured_at: datetime
    captured_at_raw: str


@dataclass(frozen=True)
class ValidUpload:
    batch_id: uuid.UUID
    frames: list[ValidFrame]


def frame_batch_upload_validate(
    *, batch_id: object, frames: list, captured_at: list
) -> ValidUpload:
    """`batch_id` and each `captured_at` must be text fields and each frame a file part: a value of
    the other kind is refused with code `file_not_allowed` / `file_required`."""
    limits = settings.MOODWATCH
    errors: list[FieldError] = []
    errors += _kind_errors("batch_id", [batch_id] if batch_id is not None else [], want_file=False)
    errors += _kind_errors("captured_at", captured_at, want_file=False)
    errors += _kind_errors("frames", frames, want_file=True)
    if errors:
        raise InputInvalid(errors)
    parsed_id = batch_id_parse(batch_id, errors)
    if not frames:
        errors.append(FieldError("frames", "required", "At least one frame file is required."))
    elif len(frames) > limits["MAX_FRAMES_PER_BATCH"]:
        errors.append(FieldError(
            "frames", "too_many_frames",
            f"{len(frames)} frames sent; at most {limits['MAX_FRAMES_PER_BATCH']} are allowed per batch.",
        ))
    if frames and len(captured_at) != len(frames):
        errors.append(FieldError(
            "captured_at", "count_mismatch",
            f"{len(captured_at)} captured_at values for {len(frames)} frames; send one per frame, in order.",
        ))
    if errors:  # structural problems: no point decoding anything
        raise InputInvalid(errors)

    now = timezone.now()
    times = [captured_at_parse(raw, i, now, errors) for i, raw in enumerate(captured_at)]
    images = [_frame_read(f, i, errors) for i, f in enumerate(frames)]
    if errors:
        raise InputInvalid(errors)
    return ValidUpload(
        batch_id=parsed_id,
        frames=[
            ValidFrame(data=data, content_type=ctype, captured_at=when, captured_at_raw=raw)
            for (data, ctype), when, raw in zip(images, times, captured_at)
        ],
    )


def _kind_errors(field: str, values: list, *, want_file: bool) -> list[FieldError]:
    """Fields that must be text refuse file parts, and the frames refuse text fields."""
    errors = []
    for index, value in enumerate(values):
        is_file = isinstance(value, UploadedFile)
        if want_file and not is_file:
            errors.append(FieldError(field, "file_required", f"{field} must be a file part, not a text field.", index))
        elif not want_file and not isinstance(value, str):
            errors.append(FieldError(field, "file_not_allowed", f"{field} must be a text field, not a file.", index))
    return errors


def batch_id_parse(raw: str | None, errors: list[FieldError]) -> uuid.UUID | None:
    """The batch's UUID, or None with a FieldError added (frame and mood batches alike)."""
    if not raw:
        errors.append(FieldError("batch_id", "required", "batch_id (a UUID) is required."))
        return None
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        errors.append(FieldError("batch_id", "invalid_uuid", f"{str(raw)[:64]!r} is not a UUID."))
        return None


def captured_at_parse(raw: str, index: int, now: datetime, errors: list[FieldError]) -> datetime | None:
    """A frame's capture time (frame and mood batches alike), by the device timestamp rule
    (backend/core/timestamps.py); else None with a FieldError for `captured_at` at `index` added to
    `errors`."""
    when, problem = device_timestamp_parse(raw, field="captured_at", now=now, index=index)
    if problem is not None:
        errors.append(problem)
    return when


def _frame_read(upload: UploadedFile, index: int, errors: list[FieldError]) -> tuple[bytes, str] | None:
    limits = settings.MOODWATCH
    if upload.size > limits["MAX_FRAME_BYTES"]:
        errors.append(FieldError(
            "frames", "frame_too_large",
            f"{upload.size} bytes; the limit is {limits['MAX_FRAME_BYTES']} bytes per frame.", index,
        ))
        return None
    data = upload.read()
    content_type, problem = _image_inspect(data, limits["MAX_FRAME_PIXELS"])
    if problem is not None:
        code, detail = problem
        errors.append(FieldError("frames", code, detail, index))
        return None
    return data, content_type


def _image_inspect(data: bytes, max_pixels: int) -> tuple[str | None, tuple[str, str] | None]:
    """(content type, None) if `data` is a complete JPEG/PNG within the decode bound, else (None, (code, detail)).

    Only the structure is read here, never the pixels: the worker decodes every frame anyway,
    and a decode here cost 0.5 ms a frame of the web's ~1.9 (a third of its CPU per frame).
    The header is read first, so a decompression bomb is refused before anything else. A JPEG's
    segments and scans are then walked to its end-of-image marker (a cut-off upload has none),
    counting its scans: each one is a pass of the worker's decoder over the whole frame, so their
    number bounds its cost (docs/security.md, "Decode bound"). A PNG's decoded size is bounded
    from its header, then every chunk's CRC is checked up to IEND. A frame that passes and still
    fails to decode (bytes corrupted inside the scan) is counted in the batch's
    `frames_undecodable` by the worker.
    """
    limits = settings.MOODWATCH
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in CONTENT_TYPES:
                return None, ("unsupported_image_type", f"{image.format} images are not accepted; send JPEG or PNG.")
            width, height = image.size
            if width * height > max_pixels:
                return None, ("too_many_pixels", f"{width}x{height} exceeds the limit of {max_pixels} pixels.")
            if image.format == "JPEG":
                problem = _jpeg_structure_problem(data, limits["MAX_JPEG_SCANS"])
            else:
                problem = _png_size_problem(data, limits["MAX_PNG_PIXELS"], limits["MAX_PNG_DECODED_BYTES"])
                if problem is None:
                    image.verify()
            if problem:
                return None, problem
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None, ("too_many_pixels", f"The image exceeds the limit of {max_pixels} pixels.")
    except UnidentifiedImageError:
        return None, ("not_an_image", "Not a JPEG or PNG image.")
    except (OSError, SyntaxError, ValueError) as error:
        return None, ("undecodable_image", f"The image cannot be decoded ({error}).")
    return CONTENT_TYPES[image.format], None


# The next marker after a scan's entropy-coded data: 0xFF followed by anything but a stuffed zero
# (0xFF00 is a literal 0xFF byte), a restart marker (RST0-7 sit inside the scan) or another 0xFF
# (a fill byte: the match is then the last 0xFF of the run). One byte of lookahead, no repetition:
# the search is linear in the scan's length, and runs in C, whatever the bytes.
_JPEG_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # markers without a length field
_JPEG_CUT_OFF = ("undecodable_image", "The JPEG ends before its end-of-image marker (cut off during upload?).")


def _jpeg_structure_problem(data: bytes, max_scans: int) -> tuple[str, str] | None:
    """Walk the JPEG's segments from SOI to EOI, jumping over each scan's entropy-coded data to
    the marker that ends it; (code, detail) if it is malformed, cut off or has over `max_scans`
    scans. A header segment is skipped by its length, so an EXIF thumbnail (a whole JPEG in APP1,
    with its own scan and end marker) is neither counted nor taken for the frame's end. Data
    after the end marker (phone makers' trailers) is allowed, as decoders ignore it."""
    pos, scans, size = 2, 0, len(data)
    while pos + 2 <= size:
        if data[pos] != 0xFF:
            return "undecodable_image", f"The JPEG has no marker where one must be (byte {pos})."
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xD9:  # end of image
            return None if scans else ("undecodable_image", "The JPEG has no image data after its header.")
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        if pos + 4 > size:
            break
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if length < 2:
            return "undecodable_image", f"The JPEG has a segment of impossible length {length} (byte {pos})."
        pos += 2 + length
        if marker == JPEG_START_OF_SCAN:
            scans += 1
            if scans > max_scans:
                return "too_many_scans", (
                    f"The JPEG has more than {max_scans} scans; a camera writes 1 (baseline) to about 10 "
                    "(progressive). Re-encode it as a baseline JPEG."
                )
            next_marker = _JPEG_SCAN_END.search(data, pos)
            if next_marker is None:
                break
            pos = next_marker.start()
    return _JPEG_CUT_OFF


PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by IHDR colour type: grey, RGB, palette, grey+alpha, RGBA


def _png_size_problem(data: bytes, max_pixels: int, max_decoded_bytes: int) -> tuple[str, str] | None:
    """(code, detail) if the PNG's pixels or decoded size (what its compressed data must inflate
    to: one filter byte and the packed samples of every row) are over the limits. Read from the
    IHDR chunk, which Pillow has already checked is first; a zero-filled frame compresses about
    1000:1, so the upload's size says nothing of the decoder's work."""
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    bit_depth, colour_type = data[24], data[25]
    if width * height > max_pixels:
        return "too_many_pixels", f"{width}x{height} exceeds the limit of {max_pixels} pixels for a PNG; send a JPEG."
    row_bytes = 1 + (width * PNG_CHANNELS.get(colour_type, 4) * bit_depth + 7) // 8
    if row_bytes * height > max_decoded_bytes:
        return "decoded_size_too_large", (
            f"The PNG decodes to {row_bytes * height} bytes ({bit_depth}-bit samples); "
            f"the limit is {max_decoded_bytes}. Send an 8-bit PNG or a JPEG."
        )
    return None
