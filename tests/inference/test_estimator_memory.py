"""A serving process reserves its classifier buffers at start, so its memory does not step up later.

Measured in a fresh interpreter each time: memory freed by other tests in this process would
otherwise be reused and hide the growth.
"""
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json, os, sys
import numpy as np
from profiling.memory import rss_kib
from inference import MoodEstimator

def rss_mib():
    return rss_kib(os.getpid()) / 1024

estimator = MoodEstimator.load()
estimator.classify(np.zeros((1, estimator.input_size, estimator.input_size), np.uint8))
if sys.argv[1] == "warm":
    estimator.warm_up()
before = rss_mib()
faces = np.random.default_rng(0).integers(0, 256, (64, estimator.input_size, estimator.input_size), np.uint8)
estimator.classify(faces)
print(json.dumps({"growth_mib": rss_mib() - before}))
"""


def growth_after_a_batch_of_64_faces(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=REPO, capture_output=True, text=True,
                         timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["growth_mib"]


def test_a_batch_with_many_faces_grows_a_cold_process_but_not_one_that_warmed_up():
    assert growth_after_a_batch_of_64_faces("cold") > 30
    assert growth_after_a_batch_of_64_faces("warm") < 10


def test_warming_up_gives_the_calling_thread_buffers_for_the_largest_batch(estimator):
    from inference.estimator import MAX_CLASSIFY_BATCH

    estimator.warm_up()
    assert estimator.classifier.capacity == MAX_CLASSIFY_BATCH
