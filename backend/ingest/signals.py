"""What the ingest service announces to the layer above it (backend.workflows), which decides what
follows in the apps that read ingest (roll-ups, alerts). Ingest imports none of them."""
from django.dispatch import Signal

# Sent inside the transaction that marks a batch done, before it commits, with `batch` (the locked
# FrameBatch) and `frames`: (captured_at, processed, with_face, bystanders) for every frame of the batch
# (bystanders: the frame's faces other than the patient's, counted and never classified), and
# `settled`: True when the batch's row already holds its final status in this transaction (a mood
# batch is inserted `done`), so that what reads finished batches (the roll-up) may take it now;
# False when the status is written after the announcement (a processed frame batch). A receiver may
# write in that transaction and register work for after the commit.
batch_landing = Signal()
