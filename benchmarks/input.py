"""Input pipeline throughput: photos per CPU-second that the Trainer's tf.data pipeline delivers, no model.

    .venv/bin/python benchmarks/input.py [--profile full] [--batches 60] [--repeats 3] [--workdir DIR]
        [--name input]

Ingests and transforms ``shared/data/bsds500/train`` into what the profile's Transform stores (real
gzipped TFRecords; ``schemas/config.py``: the profile's model section decides the size and whether a
classifier embedding is stored; a stored embedding comes from a small randomly initialized MobileNetV2
standing in for the profile's classifier: only its output's size, 1000 float16 values, matters here),
then pulls ``--batches`` batches of the profile's training batch size through each stage of
``trainer.make_dataset`` after a warm-up of 10 batches, ``--repeats`` times:

  read            the gzipped TFRecords, files interleaved in parallel, records decompressed (no parse)
  parse           TFX's dataset factory as the Trainer calls it: read, shuffle, batch, parse
  png             + the stored Lab PNGs decoded to uint8 (``example_codec.decode_lab_png``), nothing else
  decode          ``trainer.make_dataset`` without augmentation: + ``example_codec.decode`` (PNG and float16 -> floats)
  augment         ``trainer.make_dataset`` as training runs it: + one random affine warp per photo
  decode_sliced   ``decode`` as it was before L and ab were dequantized apart: its XLA function returned
                  [batch, size, size, 3] and L and ab were sliced out of it (two strided copies)
  augment_sliced  ``augment`` built the same way, which is what ``example_codec.decode`` still does
                  after a warp (three ways to split inside XLA were slower, ``docs/scale.md``): a
                  control, whose ratio to ``augment`` shows the turn-to-turn noise

The stages take turns within each repeat (read, parse, ..., augment_sliced, then again): the machine
is shared and drifts ~40 % between runs, so alternatives are compared as ratios of turns taken side
by side (``ratios``: per repeat, the sliced build's CPU per photo over the Trainer's; their
medians), never across runs. Per stage: photos/s of wall time, CPU-seconds used by the process (every
thread) and photos per CPU-second, i.e. per core; the difference between consecutive stages of read
.. augment is that stage's own CPU cost per photo (the profile). The target is >= 400 photos per
CPU-second with augmentation, so that the 8-16 cores of a GPU machine keep one modern GPU (~5k
photos/s) fed. Writes ``benchmarks/results/<--name>.json`` with nproc and the load averages.
"""
import argparse
import dataclasses
import functools
import os
import statistics
import tempfile
import time

import common
from colornet.schemas.config import PROFILES

TARGET_PER_CORE = 400.0
WARMUP_BATCHES = 10
PROFILE_STAGES = ("read", "parse", "png", "decode", "augment")  # each adds one step to the one before
ALTERNATIVES = {"decode_sliced": "decode", "augment_sliced": "augment"}  # alternative -> what it is compared with
STAGES = ("read", "parse", "png", "decode_sliced", "decode", "augment_sliced", "augment")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="full", choices=sorted(PROFILES),
                        help="whose stored form and training batch size are measured")
    parser.add_argument("--batches", type=int, default=60, help="timed batches per stage and repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", default=None, help="reused when it already holds the transformed photos")
    parser.add_argument("--name", default="input", help="results file: benchmarks/results/NAME.json")
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


def stored_form(profile):
    """The profile's model settings as Transform stores them, its classifier (if it stores an embedding)
    replaced by a 32 px random MobileNetV2; and its training section."""
    from colornet.schemas.config import pipeline_config

    config = pipeline_config(profile, "unused", "unused")
    settings = config.model.to_dict()
    if config.model.uses_classifier:
        settings.update(backbone="mobilenet_v2", backbone_size=32, backbone_weights=None)
    return settings, config.training


def main():
    args = parse_args()
    workdir = args.workdir or tempfile.mkdtemp(prefix="colornet-input-bench-")
    print(f"work directory: {workdir}", flush=True)

    import tensorflow as tf
    import tensorflow_transform as tft
    from tfx_bsl.public import tfxio

    import local_training
    from colornet.components.model import augmentation, example_codec, network, trainer
    from colornet.schemas.config import ModelConfig
    from colornet.schemas import features

    settings, training = stored_form(args.profile)
    config = ModelConfig.from_dict(settings)
    size, batch = config.image_size, training.batch_size
    graph, examples = common.transformed_photos(workdir, settings)
    tft_output = tft.TFTransformOutput(graph)
    accessor = local_training.data_accessor(examples)
    files = local_training.split_files(examples)
    input_names = [features.L, features.EMBEDDING] if config.uses_classifier else [features.L]

    def read():
        records = tf.data.Dataset.list_files(files, shuffle=True).interleave(
            lambda name: tf.data.TFRecordDataset(name, "GZIP"), num_parallel_calls=tf.data.AUTOTUNE)
        return records.repeat().batch(batch).prefetch(tf.data.AUTOTUNE)

    def parse():
        options = tfxio.TensorFlowDatasetOptions(batch_size=batch, shuffle=True)
        return accessor.tf_dataset_factory(files, options, tft_output.transformed_metadata.schema)

    def png():
        return parse().map(lambda stored: example_codec.decode_lab_png(stored[features.LAB_PNG], size),
                           num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def trainer_dataset(augment):
        return lambda: trainer.make_dataset(files, accessor, tft_output, size, True,
                                            dataclasses.replace(training, augment=augment), input_names)

    def sliced(augment):
        """``trainer.make_dataset``'s map with XLA returning [batch, size, size, 3], L and ab sliced after."""
        def decode(stored):
            lab = example_codec.decode_lab_png(stored[features.LAB_PNG], size)
            warp = (functools.partial(augmentation.warp, matrices=augmentation.random_matrices(tf.shape(lab)[0], size, size))
                    if augment else tf.identity)
            values = tf.function(lambda lab: example_codec.dequantize(warp(lab)), jit_compile=True)(lab)
            embedding = (example_codec.decode_embedding(stored[features.EMBEDDING_F16])
                         if features.EMBEDDING_F16 in stored else None)
            decoded = example_codec.decoded_features(values, size, embedding)
            return network.model_inputs(decoded, size, input_names), tf.reshape(decoded[features.AB], [-1, size, size, 2])

        return lambda: parse().map(decode, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    builders = {"read": read, "parse": parse, "png": png, "decode": trainer_dataset(False),
                "augment": trainer_dataset(True), "decode_sliced": sliced(False), "augment_sliced": sliced(True)}
    runs = {stage: [] for stage in STAGES}
    for repeat in range(args.repeats):
        for stage in STAGES:
            result = measure(builders[stage](), args.batches, batch)
            result["loadavg_1min"] = round(os.getloadavg()[0], 2)
            runs[stage].append(result)
            print(f"repeat {repeat + 1} {stage:15s} {result['photos_per_s']:8.1f} photos/s  "
                  f"{result['photos_per_cpu_second']:8.1f} photos per CPU-second  load {result['loadavg_1min']:.1f}",
                  flush=True)

    summary, previous = {}, 0.0
    for stage in STAGES:
        per_core = [run["photos_per_cpu_second"] for run in runs[stage]]
        cpu_ms = 1000.0 / statistics.median(per_core)
        summary[stage] = {"photos_per_cpu_second_min": min(per_core), "photos_per_cpu_second_median": statistics.median(per_core),
                          "photos_per_s_median": statistics.median(run["photos_per_s"] for run in runs[stage]),
                          "cpu_ms_per_photo": round(cpu_ms, 3)}
        if stage in PROFILE_STAGES:
            summary[stage]["stage_cpu_ms_per_photo"] = round(cpu_ms - previous, 3)
            previous = cpu_ms
    ratios = {}
    for alternative, current in ALTERNATIVES.items():
        # photos per CPU-second of the current layout over the alternative's = the alternative's CPU per photo over ours
        turns = [ours["photos_per_cpu_second"] / theirs["photos_per_cpu_second"]
                 for ours, theirs in zip(runs[current], runs[alternative])]
        ratios[f"{alternative}_cpu_over_{current}"] = {"per_repeat": [round(turn, 3) for turn in turns],
                                                       "median": round(statistics.median(turns), 3)}
    print(f"\n{'stage':15s} {'photos/CPU-s (median)':>22s} {'min':>8s} {'CPU ms/photo':>13s} {'this stage':>11s}")
    for stage, figures in summary.items():
        own = figures.get("stage_cpu_ms_per_photo")
        print(f"{stage:15s} {figures['photos_per_cpu_second_median']:22.1f} {figures['photos_per_cpu_second_min']:8.1f} "
              f"{figures['cpu_ms_per_photo']:13.2f} {'' if own is None else f'{own:11.2f}'}")
    for name, ratio in ratios.items():
        print(f"{name}: median {ratio['median']:.3f} (per repeat {ratio['per_repeat']})")
    with_aug, without_aug = summary["augment"]["photos_per_cpu_second_median"], summary["decode"]["photos_per_cpu_second_median"]
    bottleneck = max(PROFILE_STAGES, key=lambda stage: summary[stage]["stage_cpu_ms_per_photo"])
    print(f"per core: {with_aug:.0f} photos/s with augmentation, {without_aug:.0f} without "
          f"(target {TARGET_PER_CORE:.0f}: {'met' if with_aug >= TARGET_PER_CORE else 'MISSED'}); "
          f"costliest stage: {bottleneck}")
    path = common.write_json(args.name, {
        **common.machine(), "profile": args.profile, "stored_form": settings, "image_size": size, "batch_size": batch,
        "batches": args.batches, "repeats": args.repeats, "warmup_batches": WARMUP_BATCHES,
        "bytes_per_transformed_example": common.bytes_per_example(examples),
        "target_photos_per_cpu_second": TARGET_PER_CORE, "summary": summary, "ratios": ratios, "runs": runs,
        "costliest_stage": bottleneck, "loadavg_end": os.getloadavg()})
    print(f"results: {path}")
    return 0 if with_aug >= TARGET_PER_CORE else 1


if __name__ == "__main__":
    raise SystemExit(main())
