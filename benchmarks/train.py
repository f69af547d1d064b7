"""Training throughput: the Trainer's input pipeline against in-memory tensors, same model, same run;
and the bytes Transform stores per photo.

    .venv/bin/python benchmarks/train.py [--steps 25] [--rounds 4] [--repeats 3] [--workdir DIR]

1. Stored size: ``shared/data/bsds500/train`` ingested and transformed at 256 px as the ``full``
   profile stores it (unet with the classifier fused: Lab PNG + float16 classifier embedding; a small
   randomly initialized MobileNetV2 stands in for the classifier, whose output has the same 1000
   values): mean gzipped bytes per transformed example. Target: <= 100 KiB (it was 682 KiB as float32
   lists).
2. Trainer overhead, for the ``cpu`` profile's model (unet at 64 px) and the same with the classifier
   embedding fused as ``full`` fuses it (MobileNetV2 at 32 px as the classifier), batch 8, so each
   runs in minutes on a CPU: one Keras model trains (its own train step, as ``fit`` runs it) on each
   input in turns of ``--steps`` steps, ``--rounds`` turns per input and repeat, after
   ``--warmup-steps`` untimed steps per input (tracing, iterator start-up, the shuffle buffer's first
   fill), ``--repeats`` times:
     in_memory                one batch already in memory, repeated: no input work at all
     trainer_pipeline         ``trainer.make_dataset`` as ``run_fn`` feeds ``model.fit`` (read,
                              decompress, parse, decode, augment, prefetch)
     trainer_pipeline_no_aug  the same without augmentation
   The ratio trainer_pipeline / in_memory of images/s is taken within each repeat (the inputs take
   turns, so they share the machine's load) and reported as min and median over the repeats, beside
   the same ratio of images per CPU-second (what the pipeline's own work costs, whatever the load).
   Target: median >= 0.95. On a CPU the input pipeline's work competes with the model for the same
   cores, so the ratio is roughly model cost / (model cost + input cost); on a GPU the pipeline
   runs beside the model.

Prints the figures and writes ``benchmarks/results/train.json`` (with nproc and load averages).
"""
import argparse
import os
import statistics
import tempfile
import time

import common

TARGET_RATIO = 0.95
TARGET_BYTES = 100 * 1024
STORED_SIZE_SETTINGS = {"variant": "unet", "image_size": 256, "classifier": True, "backbone": "mobilenet_v2",
                        "backbone_size": 32}
OVERHEAD_SETTINGS = {
    "unet_64": {"variant": "unet", "image_size": 64},
    "unet_classifier_64": {"variant": "unet", "image_size": 64, "classifier": True, "backbone": "mobilenet_v2",
                           "backbone_size": 32},
}
INPUTS = ("in_memory", "trainer_pipeline", "trainer_pipeline_no_aug")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=25, help="steps per turn of each input")
    parser.add_argument("--rounds", type=int, default=4, help="turns per input and repeat")
    parser.add_argument("--warmup-steps", type=int, default=10, help="untimed steps per input before the repeats")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", nargs="+", default=list(OVERHEAD_SETTINGS), choices=list(OVERHEAD_SETTINGS))
    parser.add_argument("--workdir", default=None, help="reused when it already holds the transformed photos")
    return parser.parse_args()


def timed_rounds(model, datasets, rounds, steps):
    """Wall and CPU seconds of ``rounds`` x ``steps`` training steps per input, the inputs taking turns
    every ``steps`` steps (so a change in the machine's load hits all of them alike). Each input keeps
    one iterator throughout, as ``fit`` does within an epoch; Keras' own train step runs each step."""
    train_step = model.make_train_function()
    iterators = {source: iter(dataset) for source, dataset in datasets.items()}
    totals = {source: {"wall": 0.0, "cpu": 0.0} for source in datasets}
    for _ in range(rounds):
        for source, iterator in iterators.items():
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(steps):
                train_step(iterator)
            totals[source]["wall"] += time.perf_counter() - wall
            totals[source]["cpu"] += time.process_time() - cpu
    return totals


def overhead(name, settings, args, workdir):
    """Images/s of one model on the three inputs, ``args.repeats`` times in turn; ratios per repeat."""
    import tensorflow as tf
    import tensorflow_transform as tft

    import local_training
    from colornet.components.model import network, trainer
    from colornet.schemas.config import ModelConfig, TrainingConfig

    config = ModelConfig.from_dict(settings)
    graph, examples = common.transformed_photos(os.path.join(workdir, name), config.to_dict())
    tft_output, accessor = tft.TFTransformOutput(graph), local_training.data_accessor(examples)
    files = local_training.split_files(examples)
    model = network.compile_model(network.build_model(config), config)

    def trainer_dataset(augment):
        training = TrainingConfig(batch_size=args.batch_size, augment=augment)
        return trainer.make_dataset(files, accessor, tft_output, config.image_size, True, training, model.input_names)

    datasets = {"in_memory": tf.data.Dataset.from_tensors(next(iter(trainer_dataset(False)))).repeat(),
                "trainer_pipeline": trainer_dataset(True), "trainer_pipeline_no_aug": trainer_dataset(False)}
    timed_rounds(model, datasets, 1, args.warmup_steps)  # tracing, iterator start-up, first shuffle-buffer fill
    repeats = []
    for repeat in range(args.repeats):
        totals = timed_rounds(model, datasets, args.rounds, args.steps)
        images = args.rounds * args.steps * args.batch_size
        figures = {source: images / total["wall"] for source, total in totals.items()}
        figures.update({f"{source}_per_cpu_second": images / total["cpu"] for source, total in totals.items()})
        figures["ratio"] = figures["trainer_pipeline"] / figures["in_memory"]
        figures["ratio_no_aug"] = figures["trainer_pipeline_no_aug"] / figures["in_memory"]
        figures["cpu_ratio"] = figures["trainer_pipeline_per_cpu_second"] / figures["in_memory_per_cpu_second"]
        figures["loadavg"] = list(os.getloadavg())
        repeats.append(figures)
        print(f"{name} repeat {repeat + 1}: " + "  ".join(f"{source} {figures[source]:.1f} img/s" for source in INPUTS)
              + f"  ratio {figures['ratio']:.3f} (no aug {figures['ratio_no_aug']:.3f}; per CPU-second "
              f"{figures['cpu_ratio']:.3f})  load {figures['loadavg'][0]:.1f}", flush=True)
    ratios = [figures["ratio"] for figures in repeats]
    return {"settings": config.to_dict(), "batch_size": args.batch_size, "repeats": repeats,
            "ratio_min": min(ratios), "ratio_median": statistics.median(ratios),
            "ratio_no_aug_median": statistics.median(figures["ratio_no_aug"] for figures in repeats),
            "cpu_ratio_median": statistics.median(figures["cpu_ratio"] for figures in repeats)}


def main():
    args = parse_args()
    workdir = args.workdir or tempfile.mkdtemp(prefix="colornet-train-bench-")
    print(f"work directory: {workdir}", flush=True)

    _, stored = common.transformed_photos(os.path.join(workdir, "stored_256"), STORED_SIZE_SETTINGS)
    example_bytes = common.bytes_per_example(stored)
    print(f"stored: {example_bytes / 1024:.1f} KiB per transformed example at 256 px (gzip; target <= "
          f"{TARGET_BYTES // 1024} KiB: {'met' if example_bytes <= TARGET_BYTES else 'MISSED'})", flush=True)

    results = {name: overhead(name, OVERHEAD_SETTINGS[name], args, workdir) for name in args.variants}
    met = example_bytes <= TARGET_BYTES
    for name, result in results.items():
        met = met and result["ratio_median"] >= TARGET_RATIO
        print(f"{name}: trainer_pipeline / in_memory median {result['ratio_median']:.3f}, min {result['ratio_min']:.3f} "
              f"(no augmentation: median {result['ratio_no_aug_median']:.3f}; per CPU-second: median "
              f"{result['cpu_ratio_median']:.3f}); target median >= {TARGET_RATIO}")
    memory = common.peak_memory_mb()
    print(f"peak memory {memory:.0f} MiB")
    path = common.write_json("train", {
        **common.machine(), "steps": args.steps, "rounds": args.rounds, "warmup_steps": args.warmup_steps,
        "repeats": args.repeats,
        "stored_size_settings": STORED_SIZE_SETTINGS, "bytes_per_transformed_example": example_bytes,
        "target_bytes": TARGET_BYTES, "target_ratio": TARGET_RATIO, "overhead": results, "peak_memory_mb": memory,
        "loadavg_end": os.getloadavg()})
    print(f"results: {path}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
