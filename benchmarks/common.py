"""Helpers shared by the benchmarks: where the data is, the machine's state, CPU time, peak memory,
transformed training data, results JSON."""
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


def machine():
    """What every timing is recorded beside: the core count and the load averages (1, 5, 15 min).

    The machine is shared: compare figures as ratios measured within one run, never across runs.
    """
    return {"nproc": os.cpu_count(), "loadavg": [round(load, 2) for load in os.getloadavg()]}


def transformed_photos(workdir, model_settings, folder=SHARED_DATA / "bsds500" / "train"):
    """Ingests ``folder`` and runs TFX's Transform executor on it with ``model_settings`` (``ModelConfig``
    keys), under ``workdir``; a workdir that already holds both is reused as it is.

    Returns (transform graph directory, transformed Examples artifacts).
    """
    import local_training

    raw_dir, transform_dir = os.path.join(workdir, "raw"), os.path.join(workdir, "transform")
    graph = os.path.join(transform_dir, "transform_graph")
    if os.path.isdir(graph) and os.path.isdir(os.path.join(transform_dir, "transformed_0")):
        return graph, [local_training.examples_artifact(os.path.join(transform_dir, "transformed_0"))]
    raw = local_training.ingest(folder, raw_dir)
    print(f"transforming {folder} with {model_settings}", flush=True)
    return local_training.transform([raw], transform_dir, dict(model_settings))


def model_setting(item):
    """A ``--model KEY=VALUE`` argument -> (key, value): JSON values (``image_size=128``,
    ``backbone_weights=null``), else the string (``loss=huber``)."""
    key, separator, value = item.partition("=")
    if not separator:
        raise SystemExit(f"--model takes KEY=VALUE, not {item!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


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
