#!/usr/bin/env python3
"""The training budget of a corpus, chosen on its validation loss (scripts/reproduce.sh --epochs CORPUS=budget).

    scripts/study/budget.py METRICS_JSONL --steps-per-epoch N --max-epochs E [--tolerance T] -o BUDGET_JSON
      -> prints the chosen number of epochs

METRICS_JSONL is the metrics.jsonl of one long training run (model a, seed 1, E epochs, a
validation evaluation at every epoch's end: train.eval_every = N). The budget is the smallest whole
number of epochs whose validation loss (student, the streaming view) is within T nats (default 0.01)
of the lowest one of the run: train longer only while it still buys validation loss. The intermediate
points of one run sit higher in its learning-rate schedule than a run of that length would end, so
the rule leans long, never short; the cap E is the compute the study can spend.
"""
import argparse
import json
import sys


def validation_curve(path, steps_per_epoch, max_epochs):
    """{epoch: student validation loss} at the whole epochs 1..max_epochs of the run."""
    by_step = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"budget: {path}:{n}: not JSON ({e.msg})")
            if "val_loss_student" in record:
                by_step[record["step"]] = record["val_loss_student"]
    curve = {}
    for epoch in range(1, max_epochs + 1):
        step = epoch * steps_per_epoch
        # the run's last step may end the last epoch a few steps early (steps = ceil(E * pairs / batch))
        near = [s for s in by_step if abs(s - step) < steps_per_epoch // 2]
        if not near:
            sys.exit(f"budget: {path}: no validation loss at epoch {epoch} (step {step}): "
                     f"is the run finished, with train.eval_every = {steps_per_epoch}?")
        curve[epoch] = by_step[min(near, key=lambda s: abs(s - step))]
    return curve


def choose(curve, tolerance):
    best = min(curve.values())
    return min(e for e, loss in curve.items() if loss <= best + tolerance)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("metrics")
    ap.add_argument("--steps-per-epoch", type=int, required=True)
    ap.add_argument("--max-epochs", type=int, required=True)
    ap.add_argument("--tolerance", type=float, default=0.01)
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    if args.steps_per_epoch < 1 or args.max_epochs < 1:
        sys.exit("budget: --steps-per-epoch and --max-epochs must be at least 1")
    curve = validation_curve(args.metrics, args.steps_per_epoch, args.max_epochs)
    epochs = choose(curve, args.tolerance)
    with open(args.output, "w") as f:
        json.dump({"epochs": epochs, "max_epochs": args.max_epochs, "tolerance": args.tolerance,
                   "steps_per_epoch": args.steps_per_epoch,
                   "rule": "smallest whole epoch with validation loss within tolerance of the run's lowest",
                   "val_loss_student": {str(e): v for e, v in curve.items()}}, f, indent=1)
        f.write("\n")
    print(epochs)


if __name__ == "__main__":
    main()
