"""MoodWatch training: the offline work behind the served model (no Django, not in the image).

Train, choose and calibrate the weights, build ensembles, export the LiteRT file and its model
card, evaluate the served file, benchmark it: `python -m training --help`. TensorFlow is imported
only when a command needs it. Serving lives in `inference/`, which never imports this package.
"""
