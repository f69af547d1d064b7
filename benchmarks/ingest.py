"""Ingestion throughput: the shared Beam PTransform on the DirectRunner vs plain Python loops.

    .venv/bin/python benchmarks/ingest.py [--images DIR] [--json benchmarks/results/ingest.json]

Measured on the same files (default: /work/shared/data/bsds500, 300 JPEGs of 481x321):
  loop_decode_reencode   Pillow decode -> RGB -> PNG encode per file: the naive baseline.
  loop_normalize         ``photo.normalize`` per file: the pipeline's per-photo work without Beam.
  beam_1_worker          ``executor.IngestPhotos`` on the DirectRunner, in-process.
  beam_2_workers         the same with --direct_running_mode=multi_processing --direct_num_workers=2.
Beam figures are wall time of ``pipeline.run()`` including pipeline and worker start-up (which is
what a user waits for); ``images_per_s_after_startup`` subtracts the wall time of the same pipeline
over a folder holding a single photo. Each figure comes from one run. Ratios are against
loop_decode_reencode. ``--max-side 256`` makes every photo go through downscale + PNG encode
(by default BSDS500 JPEGs are small, upright RGB and keep their original bytes).
"""
import argparse
import glob
import io
import json
import os
import shutil
import tempfile
import time

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from PIL import Image

import common  # noqa: F401 - puts the tests' harness on the path
from colornet.components.ingestion import executor, photo
from colornet.components.ingestion.commands import direct_runner_args
from colornet.schemas.config import IngestionConfig

DEFAULT_IMAGES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "bsds500")
DEFAULT_JSON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "ingest.json")


def photo_files(images_dir):
    return sorted(p for p in glob.glob(os.path.join(images_dir, "**", "*"), recursive=True) if os.path.isfile(p))


def loop_decode_reencode(paths, config):
    for path in paths:
        with open(path, "rb") as f:
            image = Image.open(io.BytesIO(f.read())).convert("RGB")
        image.save(io.BytesIO(), format="PNG", compress_level=1)
    return len(paths)


def loop_normalize(paths, config):
    accepted = 0
    for path in paths:
        with open(path, "rb") as f:
            try:
                photo.normalize(f.read(), config)
                accepted += 1
            except photo.Rejected:
                pass
    return accepted


def beam_ingest(images_dir, config, num_workers):
    options = PipelineOptions(direct_runner_args(num_workers))
    with beam.Pipeline(options=options) as pipeline:
        ingested = pipeline | executor.IngestPhotos(os.path.abspath(images_dir), "*", config)
        _ = (ingested.examples
             | beam.Map(lambda example: len(example.SerializeToString()))
             | beam.combiners.Count.Globally())


def seconds_of(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def beam_startup_seconds(one_photo, config, num_workers):
    """Wall time of the Beam pipeline over a folder holding one photo: start-up and teardown."""
    with tempfile.TemporaryDirectory() as folder:
        shutil.copyfile(one_photo, os.path.join(folder, os.path.basename(one_photo)))
        return seconds_of(lambda: beam_ingest(folder, config, num_workers))


def timed(name, fn, n_files, cores, startup_seconds=None):
    seconds = seconds_of(fn)
    result = {"name": name, "files": n_files, "seconds": round(seconds, 3), "cores": cores,
              "images_per_s": round(n_files / seconds, 2), "images_per_s_per_core": round(n_files / seconds / cores, 2)}
    line = (f"{name:>22}: {result['images_per_s']:8.1f} images/s  ({result['images_per_s_per_core']:.1f} per core, "
            f"{seconds:.1f} s for {n_files} files)")
    if startup_seconds is not None:
        result["startup_seconds"] = round(startup_seconds, 3)
        if seconds > startup_seconds:
            result["images_per_s_after_startup"] = round(n_files / (seconds - startup_seconds), 2)
            line += f"; {result['images_per_s_after_startup']:.1f} images/s after {startup_seconds:.1f} s start-up"
    print(line, flush=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", default=os.path.normpath(DEFAULT_IMAGES))
    parser.add_argument("--json", default=os.path.normpath(DEFAULT_JSON))
    parser.add_argument("--max-side", type=int, default=IngestionConfig.max_side)
    args = parser.parse_args()
    config = IngestionConfig(max_side=args.max_side)
    paths = photo_files(args.images)
    print(f"{len(paths)} files under {args.images}, {os.cpu_count()} cores", flush=True)

    results = [
        timed("loop_decode_reencode", lambda: loop_decode_reencode(paths, config), len(paths), 1),
        timed("loop_normalize", lambda: loop_normalize(paths, config), len(paths), 1),
        timed("beam_1_worker", lambda: beam_ingest(args.images, config, 1), len(paths), 1,
              beam_startup_seconds(paths[0], config, 1)),
        timed("beam_2_workers", lambda: beam_ingest(args.images, config, 2), len(paths), 2,
              beam_startup_seconds(paths[0], config, 2)),
    ]
    baseline = results[0]["images_per_s"]
    for result in results:
        result["ratio_vs_loop_decode_reencode"] = round(result["images_per_s"] / baseline, 3)
        print(f"{result['name']:>22}: {result['ratio_vs_loop_decode_reencode']:.2f}x the naive loop")

    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"images": args.images, "cpu_count": os.cpu_count(), "config": config.to_dict(),
                   "results": results}, f, indent=2)
    print(f"Wrote {args.json}")


if __name__ == "__main__":
    main()
