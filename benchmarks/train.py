"""Training throughput: the Trainer's input pipeline against in-memory tensors, same model, same run.

    .venv/bin/python benchmarks/train.py [--variant beta] [--image-size 256] [--batch-size 8] [--steps 15]

Ingests and transforms ``shared/data/bsds500/train`` at ``--image-size`` (real gzipped TFRecords),
then fits one Keras model ``--steps`` steps per measurement, after a warm-up fit of each input:
  trainer_pipeline         ``trainer.make_dataset`` (TFRecords -> parse -> reshape -> shuffle ->
                           augmentation), exactly what ``run_fn`` feeds ``model.fit``.
  trainer_pipeline_no_aug  the same without augmentation.
  in_memory                one batch already in memory, repeated: no input work at all.
The ratio trainer_pipeline / in_memory should be >= 0.95 (the input pipeline is not the
bottleneck). Also prints the gzipped bytes per transformed example and the peak memory, and
writes ``benchmarks/results/train.json``.
"""
import argparse
import dataclasses
import os
import tempfile
import time

import common


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="beta")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=15, help="timed steps per measurement")
    parser.add_argument("--backbone", default="mobilenet_v2", help="fusion only")
    parser.add_argument("--workdir", default=None)
    return parser.parse_args()


def images_per_second(model, dataset, steps, batch_size):
    model.fit(dataset, steps_per_epoch=2, epochs=1, verbose=0)  # warm-up: tracing, iterator start
    start = time.perf_counter()
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps * batch_size / (time.perf_counter() - start)


def main():
    args = parse_args()
    workdir = args.workdir or tempfile.mkdtemp(prefix="colornet-train-bench-")
    print(f"work directory: {workdir}", flush=True)

    import tensorflow as tf
    import tensorflow_transform as tft

    import local_training
    from colornet.components.model import network as model_lib, trainer
    from colornet.pipeline.config import ModelConfig, TrainingConfig

    raw = local_training.ingest(common.SHARED_DATA / "bsds500" / "train", os.path.join(workdir, "raw"))
    print(f"transforming bsds500/train at {args.image_size} px", flush=True)
    config = ModelConfig(variant=args.variant, image_size=args.image_size, backbone=args.backbone)
    graph, (examples,) = local_training.transform(
        [raw], os.path.join(workdir, "transform"), dataclasses.asdict(config))
    tft_output = tft.TFTransformOutput(graph)
    accessor = local_training.data_accessor([examples])
    files = local_training.split_files([examples])

    model = model_lib.compile_model(model_lib.build_model(config), config)

    def trainer_dataset(augment):
        training = TrainingConfig(batch_size=args.batch_size, augment=augment)
        return trainer.make_dataset(files, accessor, tft_output, args.image_size, True, training, model.input_names)

    in_memory = tf.data.Dataset.from_tensors(next(iter(trainer_dataset(False)))).repeat()
    figures = {}
    for name, dataset in (("in_memory", in_memory), ("trainer_pipeline", trainer_dataset(True)),
                          ("trainer_pipeline_no_aug", trainer_dataset(False))):
        figures[name] = images_per_second(model, dataset, args.steps, args.batch_size)
        print(f"{name:24s} {figures[name]:8.2f} images/s", flush=True)

    ratio = figures["trainer_pipeline"] / figures["in_memory"]
    example_bytes = common.bytes_per_example([examples])
    memory = common.peak_memory_mb()
    print(f"ratio trainer_pipeline / in_memory: {ratio:.3f} ({'ok' if ratio >= 0.95 else 'BELOW 0.95'})")
    print(f"{args.variant} at {args.image_size}x{args.image_size}, batch {args.batch_size}: "
          f"{figures['trainer_pipeline']:.2f} images/s; peak memory {memory:.0f} MiB; "
          f"{example_bytes / 1024:.1f} KiB per transformed example (gzip)")
    path = common.write_json("train", {
        "variant": args.variant, "image_size": args.image_size, "batch_size": args.batch_size, "steps": args.steps,
        "images_per_s": figures, "ratio_trainer_vs_in_memory": ratio, "peak_memory_mb": memory,
        "bytes_per_transformed_example": example_bytes, "cpu_count": os.cpu_count()})
    print(f"results: {path}")
    return 0 if ratio >= 0.95 else 1


if __name__ == "__main__":
    raise SystemExit(main())
