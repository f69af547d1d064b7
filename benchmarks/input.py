"""Input pipeline throughput: photos per CPU-second that the Trainer's tf.data pipeline delivers, no model.

    .venv/bin/python benchmarks/input.py [--image-size 256] [--batch-size 32] [--batches 60] [--repeats 3]
        [--variant unet] [--no-classifier] [--workdir DIR]

Ingests and transforms ``shared/data/bsds500/train`` (real gzipped TFRecords as Transform writes
them; by default as the ``full`` profile stores them, unet with the classifier fused, so the stored
classifier embedding is read and decoded too, with a small randomly initialized MobileNetV2
standing in for the classifier: only its output's size matters here), then pulls ``--batches``
batches through each stage of ``trainer.make_dataset`` after a warm-up of 10 batches, ``--repeats``
times:

  read          the gzipped TFRecords, files interleaved in parallel, records decompressed (no parse)
  parse         TFX's dataset factory as the Trainer calls it: read, shuffle, batch, parse
  png           + the stored Lab PNGs decoded to uint8 (``example_codec.decode_lab_png``), nothing else
  decode        ``trainer.make_dataset`` without augmentation: + ``example_codec.decode`` (PNG and float16 -> floats)
  augment       ``trainer.make_dataset`` as training runs it: + one random affine warp per photo

Per stage: photos/s of wall time, CPU-seconds used by the process (every thread) and photos per
CPU-second, i.e. per core; the difference between consecutive stages is that stage's own CPU cost
per photo (the profile). The target is >= 400 photos per CPU-second with augmentation, so that the
8-16 cores of a GPU machine keep one modern GPU (~5k photos/s) fed. Writes
``benchmarks/results/input.json`` with nproc and the load averages.
"""
import argparse
import os
import statistics
import tempfile
import time

import common
from colornet.schemas.config import VARIANTS

TARGET_PER_CORE = 400.0
WARMUP_BATCHES = 10
STAGES = ("read", "parse", "png", "decode", "augment")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=60, help="timed batches per stage and repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variant", default="unet", choices=VARIANTS)
    parser.add_argument("--classifier", default=True, action=argparse.BooleanOptionalAction,
                        help="unet: store and read the classifier embedding, as the full profile does")
    parser.add_argument("--workdir", default=None, help="reused when it already holds the transformed photos")
    return parser.parse_args()


def measure(dataset, batches, batch_size):
    """Pulls ``batches`` batches after the warm-up; returns wall seconds, CPU seconds and photos/s."""
    iterator = iter(dataset)
    for _ in range(WARMUP_BATCHES):
        next(iterator)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(batches):
        next(iterator)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    photos = batches * batch_size
    return {"photos": photos, "wall_seconds": round(wall, 3), "cpu_seconds": round(cpu, 3),
            "photos_per_s": round(photos / wall, 1), "photos_per_cpu_second": round(photos / cpu, 1)}


def main():
    args = parse_args()
    workdir = args.workdir or tempfile.mkdtemp(prefix="colornet-input-bench-")
    print(f"work directory: {workdir}", flush=True)

    import tensorflow as tf
    import tensorflow_transform as tft
    from tfx_bsl.public import tfxio

    import local_training
    from colornet.components.model import example_codec, trainer
    from colornet.schemas.config import ModelConfig, TrainingConfig
    from colornet.schemas import features

    config = ModelConfig(variant=args.variant, image_size=args.image_size, backbone="mobilenet_v2", backbone_size=32,
                         classifier=args.classifier and args.variant == "unet")
    graph, examples = common.transformed_photos(workdir, config.to_dict())
    tft_output = tft.TFTransformOutput(graph)
    accessor = local_training.data_accessor(examples)
    files = local_training.split_files(examples)
    input_names = [features.L, features.EMBEDDING] if config.uses_classifier else [features.L]
    batch = args.batch_size

    def read():
        records = tf.data.Dataset.list_files(files, shuffle=True).interleave(
            lambda name: tf.data.TFRecordDataset(name, "GZIP"), num_parallel_calls=tf.data.AUTOTUNE)
        return records.repeat().batch(batch).prefetch(tf.data.AUTOTUNE)

    def parse():
        options = tfxio.TensorFlowDatasetOptions(batch_size=batch, shuffle=True)
        return accessor.tf_dataset_factory(files, options, tft_output.transformed_metadata.schema)

    def png():
        return parse().map(lambda stored: example_codec.decode_lab_png(stored[features.LAB_PNG], args.image_size),
                           num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def trainer_dataset(augment):
        return lambda: trainer.make_dataset(files, accessor, tft_output, args.image_size, True,
                                            TrainingConfig(batch_size=batch, augment=augment), input_names)

    builders = {"read": read, "parse": parse, "png": png, "decode": trainer_dataset(False), "augment": trainer_dataset(True)}
    runs = {stage: [] for stage in STAGES}
    for repeat in range(args.repeats):
        for stage in STAGES:
            result = measure(builders[stage](), args.batches, batch)
            runs[stage].append(result)
            print(f"repeat {repeat + 1} {stage:8s} {result['photos_per_s']:8.1f} photos/s  "
                  f"{result['photos_per_cpu_second']:8.1f} photos per CPU-second  load {os.getloadavg()[0]:.1f}",
                  flush=True)

    summary, previous = {}, 0.0
    for stage in STAGES:
        per_core = [run["photos_per_cpu_second"] for run in runs[stage]]
        cpu_ms = 1000.0 / statistics.median(per_core)
        summary[stage] = {"photos_per_cpu_second_min": min(per_core), "photos_per_cpu_second_median": statistics.median(per_core),
                          "photos_per_s_median": statistics.median(run["photos_per_s"] for run in runs[stage]),
                          "cpu_ms_per_photo": round(cpu_ms, 3), "stage_cpu_ms_per_photo": round(cpu_ms - previous, 3)}
        previous = cpu_ms
    print(f"\n{'stage':10s} {'photos/CPU-s (median)':>22s} {'min':>8s} {'CPU ms/photo':>13s} {'this stage':>11s}")
    for stage, figures in summary.items():
        print(f"{stage:10s} {figures['photos_per_cpu_second_median']:22.1f} {figures['photos_per_cpu_second_min']:8.1f} "
              f"{figures['cpu_ms_per_photo']:13.2f} {figures['stage_cpu_ms_per_photo']:11.2f}")
    with_aug, without_aug = summary["augment"]["photos_per_cpu_second_median"], summary["decode"]["photos_per_cpu_second_median"]
    bottleneck = max(STAGES, key=lambda stage: summary[stage]["stage_cpu_ms_per_photo"])
    print(f"per core: {with_aug:.0f} photos/s with augmentation, {without_aug:.0f} without "
          f"(target {TARGET_PER_CORE:.0f}: {'met' if with_aug >= TARGET_PER_CORE else 'MISSED'}); "
          f"costliest stage: {bottleneck}")
    path = common.write_json("input", {
        **common.machine(), "variant": args.variant, "classifier": config.uses_classifier, "image_size": args.image_size, "batch_size": batch,
        "batches": args.batches, "repeats": args.repeats, "warmup_batches": WARMUP_BATCHES,
        "bytes_per_transformed_example": common.bytes_per_example(examples),
        "target_photos_per_cpu_second": TARGET_PER_CORE, "summary": summary, "runs": runs,
        "costliest_stage": bottleneck, "loadavg_end": os.getloadavg()})
    print(f"results: {path}")
    return 0 if with_aug >= TARGET_PER_CORE else 1


if __name__ == "__main__":
    raise SystemExit(main())
