"""MoodWatch device simulator: the Android app's stand-in, using only the public device API v1.

    python -m clients.simulator --server http://127.0.0.1:8000 --code ABCDE-FGHJK --images ../shared/images
    python -m clients.simulator --server http://127.0.0.1:8000 --video walk.mp4 --fps 1

It enrolls with a one-time code (or reuses the token saved in its state folder), samples frames
from a video or an image folder, JPEG-encodes them, queues batches on disk and uploads them with
retries (exponential backoff, the same batch_id), then polls each batch until it is processed.
It imports no Django: it needs requests, OpenCV, numpy and tqdm only.
"""
