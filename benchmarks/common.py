"""Helpers shared by the training benchmarks: where the data is, CPU time, peak memory, results JSON."""
import json
import os
import pathlib
import resource
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
# The benchmarks reuse the tests' harness (tests/local_training.py, tests/stand_in_model.py).
sys.path.insert(0, str(ROOT / "tests"))
SHARED_DATA = ROOT.parent / "shared" / "data"
RESULTS_DIR = ROOT / "benchmarks" / "results"


def cpu_seconds():
    """User + system CPU seconds of this process and its finished children (Beam workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_memory_mb():
    """Peak resident memory of this process in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bytes_per_example(examples, split="train"):
    """Mean on-disk (gzipped TFRecord) bytes per transformed example of one split."""
    import tensorflow as tf

    import local_training

    files = [path for pattern in local_training.split_files(examples, [split]) for path in tf.io.gfile.glob(pattern)]
    count = sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))
    return sum(os.path.getsize(path) for path in files) / max(1, count)


def write_json(name, result):
    """Writes ``benchmarks/results/<name>.json`` and returns its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    return path
