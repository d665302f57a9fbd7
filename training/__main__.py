"""Command line: python -m training {train,export,evaluate,bench} --help."""

from __future__ import annotations

import argparse
import json
import sys

from benchmarks.bench import format_bench, frames_from_dir, frames_from_video, run_bench
from inference.errors import InferenceError

from .calibrate import calibrate_and_export
from .evaluate import evaluate, format_report
from .train import TrainConfig, train


def _train(args: argparse.Namespace) -> int:
    options = {name: getattr(args, name) for name in (
        "learning_rate", "plateau_patience", "init_weights", "head", "schedule", "width", "ferplus_weight",
        "random_erasing", "mixup", "label_smoothing", "early_stopping_patience", "teacher", "teacher_weight")}
    if args.ferplus_drop_unusable:
        options["ferplus_drop_unusable"] = True
    cfg = TrainConfig(epochs=args.epochs, input_size=args.input_size, seed=args.seed,
                      **{k: v for k, v in options.items() if v is not None})
    card = train(data_dir=args.data, out_dir=args.out, cfg=cfg)
    print(json.dumps({"version": card["version"], "validation_weighted_f1": card["validation"]["weighted_f1"],
                      "epochs_run": card["epochs_run"]}))
    return 0


def _export(args: argparse.Namespace) -> int:
    card = calibrate_and_export(run_dirs=args.run, data_dir=args.data, out_dir=args.out, int8=args.int8,
                                calibrated=not args.no_calibration)
    print(json.dumps({"version": card["version"], "weights": card.get("weights", "ensemble"),
                      "temperature": card["temperature"],
                      "validation_weighted_f1": card["validation"]["weighted_f1"],
                      "validation_ece": card["validation"]["ece"], "bytes": card["file"]["bytes"]}))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    result = evaluate(args.data, split=args.split, model=args.model, detect=args.detect)
    if args.json:
        print(json.dumps(result["report"]))
    else:
        print(f"model {result['model_version']} ({result['model_path']}), split {args.split}"
              f"{', faces detected first' if args.detect else ''}")
        print(format_report(result["report"]))
    return 0


def _bench(args: argparse.Namespace) -> int:
    frames = frames_from_video(args.video) if args.video else frames_from_dir(args.frames)
    result = run_bench(frames, model=args.model, repeat=args.repeat, threads=args.threads)
    print(json.dumps(result) if args.json else format_bench(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train mini-Xception; resumable; writes model, .tflite and model card")
    p.add_argument("--data", required=True, help="folder with train/ and val/ or test/ (FER2013 layout)")
    p.add_argument("--out", required=True, help="output folder (checkpoints, model, model card)")
    p.add_argument("--epochs", type=int, default=100, help="maximum epochs (early stopping may end sooner)")
    p.add_argument("--input-size", type=int, choices=(48, 64), default=48)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--learning-rate", type=float, help="Adam's initial learning rate (default 1e-3)")
    p.add_argument("--plateau-patience", type=int,
                   help="epochs without a lower validation loss before the learning rate is halved (default 2)")
    p.add_argument("--head", choices=("moods", "emotions"),
                   help="moods: a 4-way softmax (default); emotions: 7 FER2013 emotions summed into moods")
    p.add_argument("--schedule", choices=("plateau", "cosine"),
                   help="plateau: halve on a validation-loss plateau (default); cosine: warm-up and cosine decay "
                        "over --epochs")
    p.add_argument("--width", type=float, help="channel multiplier of mini-Xception (default 1.5)")
    p.add_argument("--ferplus-weight", type=float,
                   help="share of each training target taken from the FER+ votes (default 0: FER2013 labels)")
    p.add_argument("--ferplus-drop-unusable", action="store_true",
                   help="leave out training images most FER+ annotators call unknown or not a face")
    p.add_argument("--random-erasing", type=float, help="chance of erasing a random rectangle (default 0)")
    p.add_argument("--mixup", type=float, metavar="ALPHA",
                   help="blend each image, target and weight with another of its batch, the share drawn "
                        "from Beta(ALPHA, ALPHA) (default 0: off)")
    p.add_argument("--label-smoothing", type=float, help="default 0.1")
    p.add_argument("--early-stopping-patience", type=int, help="default 15")
    p.add_argument("--teacher", help="distil: a served .keras (an ensemble included) whose probabilities on each "
                                     "training image make up --teacher-weight of its target")
    p.add_argument("--teacher-weight", type=float, help="share of each target from --teacher (default 0)")
    p.add_argument("--init-weights", help="warm restart: start from these weights (an earlier run's best.keras "
                                          "or epochs/epoch_N.weights.h5) with a fresh optimizer")
    p.set_defaults(func=_train)

    p = sub.add_parser("export", help="choose the weights, calibrate them on validation data, write the serving model")
    p.add_argument("--run", required=True, action="append",
                   help="a train --out folder (best.keras, checkpoint/), or a serving .keras file with its "
                        "model_card.json; give it more than once to serve an ensemble of them")
    p.add_argument("--data", required=True, help="the same --data as train (its validation split is used)")
    p.add_argument("--out", default="inference/models", help="where the serving model and card go")
    p.add_argument("--int8", action="store_true",
                   help="quantise weights and activations to int8, calibrated on training images")
    p.add_argument("--no-calibration", action="store_true",
                   help="no temperature and no class offsets (to measure what calibration does)")
    p.set_defaults(func=_export)

    p = sub.add_parser("evaluate", help="accuracy, F1, per-class figures and confusion of the served .tflite model")
    p.add_argument("--data", required=True, help="folder-per-class images (7 FER2013 emotions or the 4 moods)")
    p.add_argument("--split", choices=("private", "public", "all"), default="private",
                   help="FER2013 PrivateTest_/PublicTest_ files; ignored for data sets without them")
    p.add_argument("--model", help="a .tflite file (default: the committed model); its model_card.json "
                                   "is read from the same folder")
    p.add_argument("--detect", action="store_true",
                   help="detect the face first (small crops are upscaled); images without a face count as misses")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("bench", help="frames/s of decode + detection + crop + classification, one process")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--video", help="a video file; each frame is JPEG-encoded first, as uploaded")
    source.add_argument("--frames", help="a folder of .jpg/.png frames (see benchmarks/bench_inference.py)")
    p.add_argument("--model", help="a .tflite file (default: the committed model)")
    p.add_argument("--repeat", type=int, default=1,
                   help="time all frames N times and report the fastest pass (default 1)")
    p.add_argument("--threads", type=int, default=1,
                   help="split the frames between N threads of this process, each with its own "
                        "interpreters (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InferenceError as exc:  # bad data or input: a clear message, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
