"""The one exception type the inference package raises for bad input or bad data."""


class InferenceError(ValueError):
    """Bad input to the mood pipeline: undecodable, empty, wrong dtype or absurdly large."""


class DatasetError(InferenceError):
    """A data set folder that cannot be read as folder-per-class images."""
