#!/usr/bin/env python3
"""check_tensorboard.py - reads gmmdiff's TensorBoard event files with TensorBoard's own reader.

    python3 tools/ref/check_tensorboard.py RUN_DIR        # RUN_DIR/tb and RUN_DIR/metrics.jsonl
    python3 tools/ref/check_tensorboard.py EVENT_FILE     # one event file

Loads the events with tensorboard's EventAccumulator (pip package `tensorboard`; TensorFlow is
not needed) and prints every scalar tag with its (step, value) pairs. Given a run directory
with a metrics.jsonl, also checks that TensorBoard's view (after its purge of steps a resumed
run logged again) holds exactly the JSONL's values: each JSONL number as float32, each null as
NaN or +-Inf, and nothing more. Exits 1 on a mismatch. Not part of `make check`.
"""
import json
import math
import os
import sys

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def load_scalars(path):
    acc = EventAccumulator(path, size_guidance={"scalars": 0})  # 0: keep every event
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def jsonl_scalars(path):
    want = {}
    with open(path) as f:
        for line in f:
            obj = json.loads(line)
            step = obj.pop("step")
            obj.pop("time")
            for tag, v in obj.items():
                want.setdefault(tag, []).append((step, v))
    return want


def same(tb_value, json_value):
    if json_value is None:
        return not math.isfinite(tb_value)
    with np.errstate(over="ignore"):  # beyond float32's range the file holds +-Inf
        f = np.float32(json_value)  # what the event file holds: simple_value is a float32
    return tb_value == f or (math.isnan(tb_value) and math.isnan(f))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    run_dir = path if os.path.isdir(path) and os.path.isdir(os.path.join(path, "tb")) else None
    scalars = load_scalars(os.path.join(path, "tb") if run_dir else path)
    for tag in sorted(scalars):
        pairs = ", ".join(f"({s}, {v:.7g})" for s, v in scalars[tag])
        print(f"{tag}: {pairs}")
    jsonl = os.path.join(run_dir, "metrics.jsonl") if run_dir else None
    if not jsonl or not os.path.exists(jsonl):
        return
    want = jsonl_scalars(jsonl)
    bad = []
    for tag in sorted(set(want) | set(scalars)):
        got, exp = scalars.get(tag, []), want.get(tag, [])
        if len(got) != len(exp) or any(gs != es or not same(gv, ev)
                                       for (gs, gv), (es, ev) in zip(got, exp)):
            bad.append(tag)
            print(f"MISMATCH {tag}: tensorboard {got} metrics.jsonl {exp}")
    print(f"{len(want)} tags in metrics.jsonl, {len(scalars)} in TensorBoard: "
          + ("agree" if not bad else f"{len(bad)} disagree"))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
