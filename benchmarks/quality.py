"""Colorization quality for a fixed CPU budget: train, then measure on held-out photos beside gray.

    .venv/bin/python benchmarks/quality.py [--budget-minutes 10] [--losses mse huber rebalanced]
        [--profile NAME] [--variant beta] [--image-size 64] [--batch-size 8] [--max-val N]

Trains on ``shared/data/bsds500/train`` + ``seed-unsplash/train`` through the real stages
(photo ExampleGen, TFX's Transform executor, ``trainer.run_fn`` with its augmentation, for
``--budget-minutes`` of wall time per loss), exports the serving model, and evaluates its
``serving_default`` signature on ``bsds500/val`` with ``components/quality`` (PSNR, SSIM,
ab-MSE, colorfulness; gray baseline beside it). One training per loss in ``--losses``, from the
same data and seed, so the losses are compared on equal terms. Prints the figures, the
training CPU-minutes, the transformed bytes per example, and writes
``benchmarks/results/quality.json``; HTML galleries go to the work directory.

Model settings: ``--profile`` (pipeline/config.py; default ``cpu-beta``: beta at 64 px), then any
flag. ``epochs`` and ``train_steps`` of the profile are ignored: the budget decides.
"""
import argparse
import os
import tempfile
import time

from tqdm import tqdm

import common

DEFAULT_PROFILE = "cpu-beta"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget-minutes", type=float, default=10.0, help="training wall time per loss (default 10)")
    parser.add_argument("--losses", nargs="+", default=["mse"], help="losses to train and compare (default: mse)")
    parser.add_argument("--profile", default=DEFAULT_PROFILE,
                        help=f"named model/training settings to start from (default {DEFAULT_PROFILE})")
    parser.add_argument("--variant", default=None)
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--backbone", default=None)
    parser.add_argument("--backbone-size", type=int, default=None)
    parser.add_argument("--learning-rate", type=float, default=None)
    parser.add_argument("--max-val", type=int, default=None, help="evaluate only the first N val photos")
    parser.add_argument("--workdir", default=None, help="default: a new temporary directory")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


def settings(args):
    """custom_config for the Trainer: the profile's model and training settings, then the flags given."""
    from colornet.pipeline.config import PROFILES

    profile = PROFILES[args.profile]
    model = {"variant": args.variant, "image_size": args.image_size, "backbone": args.backbone,
             "backbone_size": args.backbone_size, "learning_rate": args.learning_rate}
    return {"model": {**profile["model"], **{key: value for key, value in model.items() if value is not None}},
            "training": {**profile["training"], **({"batch_size": args.batch_size} if args.batch_size else {})}}


def prepare_data(workdir, config):
    """Ingests and transforms the training folders and the val folder; returns (graph, train, val)."""
    import local_training

    folders = {"bsds500_train": common.SHARED_DATA / "bsds500" / "train",
               "unsplash_train": common.SHARED_DATA / "seed-unsplash" / "train",
               "bsds500_val": common.SHARED_DATA / "bsds500" / "val"}
    raw = [local_training.ingest(path, os.path.join(workdir, "raw", name))
           for name, path in tqdm(folders.items(), desc="ingest", unit="folder")]
    print(f"transforming {len(raw)} folders at {config['model']['image_size']} px", flush=True)
    graph, transformed = local_training.transform(raw, os.path.join(workdir, "transform"), config["model"])
    return graph, transformed[:2], transformed[2:]


def trained_steps(fn_args):
    import tensorflow as tf

    reader = tf.train.load_checkpoint(os.path.join(fn_args.model_run_dir, "checkpoints"))
    return int(reader.get_tensor("optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"))


def train_and_evaluate(loss, config, data, args, workdir):
    """One training run for ``loss`` within the budget, then the evaluation on bsds500/val."""
    import tf_keras as keras

    import local_training
    from colornet.components.evaluation import gallery, report as evaluate
    from colornet.components.model import trainer

    graph, train, val = data
    keras.utils.set_random_seed(args.seed)
    epochs = 1000  # the time budget ends training; checkpoints and sample grids each epoch
    steps_per_epoch = 25
    custom_config = {"model": {**config["model"], "loss": loss},
                     "training": {**config["training"], "epochs": epochs, "time_budget_minutes": args.budget_minutes}}
    fn_args = local_training.fn_args(
        graph, local_training.split_files(train), local_training.split_files(val), train + val,
        os.path.join(workdir, f"train_{loss}"), custom_config, train_steps=epochs * steps_per_epoch, eval_steps=2)
    print(f"[{loss}] training {config} for {args.budget_minutes} min", flush=True)
    cpu_start, wall_start = common.cpu_seconds(), time.time()
    trainer.run_fn(fn_args)
    training = {"wall_minutes": (time.time() - wall_start) / 60.0,
                "cpu_minutes": (common.cpu_seconds() - cpu_start) / 60.0,
                "steps": trained_steps(fn_args),
                "images_seen": trained_steps(fn_args) * config["training"]["batch_size"]}

    photo_gallery = gallery.Gallery()
    report = evaluate.evaluate_folder(evaluate.saved_model_colorizer(fn_args.serving_model_dir),
                                      common.SHARED_DATA / "bsds500" / "val", max_images=args.max_val,
                                      on_photo=photo_gallery.add)
    gallery_path = photo_gallery.write(report, os.path.join(workdir, f"gallery_{loss}.html"),
                                       title=f"bsds500/val, {config['model']['variant']} trained with {loss}")
    print(evaluate.format_summary(report), flush=True)
    return {"loss": loss, "training": training, "summary": report["summary"], "gallery": str(gallery_path),
            "model": fn_args.serving_model_dir, "tensorboard": fn_args.model_run_dir}


def comparison_table(runs):
    header = ("loss", "steps", "train CPU-min", "ab-MSE", "gray ab-MSE", "beats gray", "colorfulness",
              "orig. colorfulness", "PSNR", "SSIM")
    rows = [header]
    for run in runs:
        model, gray, summary = run["summary"]["model"], run["summary"]["gray"], run["summary"]
        rows.append((run["loss"], str(run["training"]["steps"]), f"{run['training']['cpu_minutes']:.1f}",
                     f"{model['ab_mse']:.1f}", f"{gray['ab_mse']:.1f}", "yes" if model["ab_mse"] < gray["ab_mse"] else "NO",
                     f"{model['colorfulness']:.1f}", f"{summary['original']['colorfulness']:.1f}",
                     f"{model['psnr']:.2f}", f"{model['ssim']:.3f}"))
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in rows)


def main():
    args = parse_args()
    config = settings(args)
    workdir = args.workdir or tempfile.mkdtemp(prefix="colornet-quality-")
    os.makedirs(workdir, exist_ok=True)
    print(f"work directory: {workdir}", flush=True)
    cpu_start = common.cpu_seconds()
    data = prepare_data(workdir, config)
    preparation_cpu = (common.cpu_seconds() - cpu_start) / 60.0
    example_bytes = common.bytes_per_example(data[1])

    runs = [train_and_evaluate(loss, config, data, args, workdir) for loss in args.losses]
    print(comparison_table(runs))
    print(f"transformed example: {example_bytes / 1024:.1f} KiB on disk (gzip) at {config['model']['image_size']} px; "
          f"ingest + transform: {preparation_cpu:.1f} CPU-min; total {(common.cpu_seconds() - cpu_start) / 60:.1f} CPU-min")
    path = common.write_json("quality", {
        "config": config, "budget_minutes": args.budget_minutes, "seed": args.seed,
        "train_folders": ["bsds500/train", "seed-unsplash/train"], "eval_folder": "bsds500/val",
        "bytes_per_transformed_example": example_bytes, "preparation_cpu_minutes": preparation_cpu,
        "peak_memory_mb": common.peak_memory_mb(), "runs": runs})
    print(f"results: {path}")
    return 0 if all(run["summary"]["model"]["ab_mse"] < run["summary"]["gray"]["ab_mse"] for run in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
