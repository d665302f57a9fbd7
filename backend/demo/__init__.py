"""The `make run` demo: a DEMO clinician, two demo patients, real photos fed through the real pipeline."""
