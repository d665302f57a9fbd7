"""Command line: python -m inference {train,evaluate,bench} --help."""

from __future__ import annotations

import argparse
import json
import sys


def _train(args: argparse.Namespace) -> int:
    from .train import TrainConfig, train

    cfg = TrainConfig(epochs=args.epochs, input_size=args.input_size, seed=args.seed)
    card = train(data_dir=args.data, out_dir=args.out, cfg=cfg)
    print(json.dumps({"version": card["version"], "validation_weighted_f1": card["validation"]["weighted_f1"],
                      "epochs_run": card["epochs_run"]}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m inference", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train mini-Xception; resumable; writes model, .tflite and model card")
    p.add_argument("--data", required=True, help="folder with train/ and val/ or test/ (FER2013 layout)")
    p.add_argument("--out", required=True, help="output folder (checkpoints, model, model card)")
    p.add_argument("--epochs", type=int, default=100, help="maximum epochs (early stopping may end sooner)")
    p.add_argument("--input-size", type=int, choices=(48, 64), default=48)
    p.add_argument("--seed", type=int, default=1337)
    p.set_defaults(func=_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
