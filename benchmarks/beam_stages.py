"""CPU-seconds and bytes per photo of each Beam stage, and what a multi-process DirectRunner costs to start.

    .venv/bin/python benchmarks/beam_stages.py [--photos 40 300] [--profiles full cpu demo]
        [--stages examplegen statisticsgen transform evaluator] [--model KEY=VALUE ...] [--workdir DIR]
        [--name beam_stages]

Runs the pipeline's own executors in-process (DirectRunner, one worker: every CPU-second is this
process's) on N photos made from ``shared/data/bsds500/train`` (481x321 JPEGs, with mirrored and
cropped copies beyond its 200), for each N of ``--photos``:

  examplegen     ``PhotoExampleGenExecutor`` (ingestion: decode checks, hashing, split)
  statisticsgen  TFX's StatisticsGen executor with colornet's stats options
  transform      TFX's Transform executor with ``preprocessing_fn``, per profile (``schemas/config.py``;
                 ``--model`` overrides its model section, e.g. ``backbone=mobilenet_v2``; classifiers
                 randomly initialized: their cost does not depend on their weights)
  evaluator      TFMA with colornet's eval config on the eval split of the transformed examples (as the
                 pipeline's Evaluator reads them), per profile, against that profile's untrained model
                 exported by ``export.export_serving_model``; ``--evaluator-reads raw`` gives it the raw
                 examples instead, as the Evaluator read them before it read Transform's (to measure an
                 older commit with this script: copy it into that commit's ``benchmarks/``)

Per stage: CPU-seconds and wall seconds, bytes written, and from the two sizes the per-photo CPU
cost (the slope) and the fixed cost of one run (the intercept: start-up, graph tracing). Then the
start-up of a multi-process DirectRunner job: ingestion of a one-photo folder with
``--direct_running_mode=multi_processing --direct_num_workers=2`` against in-process (wall seconds;
its workers import TensorFlow and TFX before they take work). ``pipeline/local_runner.py`` chooses
in-process or multi-process from these figures, and the whole of ``bsds500`` (300 photos) is ingested
both ways, beside the choice ``local_runner`` makes for it. Also ingestion's per-photo work on 12 MP photos
(downscaled to 1024 px and stored as PNG), the size of a phone or Unsplash photo. These ingestion figures
come with the ``examplegen`` stage only. Writes ``benchmarks/results/<--name>.json``.
"""
import argparse
import json
import os
import pathlib
import shutil
import tempfile
import time

import common
from colornet.schemas.config import PROFILES

STAGES = ("examplegen", "statisticsgen", "transform", "evaluator")
IN_PROCESS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
MULTI_PROCESS = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, nargs=2, default=[40, 600], help="the two folder sizes (at most 600)")
    parser.add_argument("--profiles", nargs="+", default=["full", "cpu", "demo"], choices=sorted(PROFILES))
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--model", nargs="+", default=[], metavar="KEY=VALUE",
                        help="overrides of the profiles' model section (ModelConfig keys; values as JSON, else strings)")
    parser.add_argument("--evaluator-reads", default="transformed", choices=("transformed", "raw"),
                        help="the examples the Evaluator reads: raw for commits before it read Transform's")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--name", default="beam_stages", help="results file: benchmarks/results/NAME.json")
    args = parser.parse_args()
    args.model = dict(common.model_setting(item) for item in args.model)
    return args


def model_config(profile, overrides):
    """The profile's model section with ``overrides`` applied (validated as the pipeline validates it)."""
    from colornet.schemas.config import pipeline_config

    return pipeline_config(profile, "unused", "unused", model=overrides).model


def photo_folder(root, count):
    """A folder of ``count`` distinct photos: bsds500/train's 200 (copies), then their mirror images and
    their 90% centre crops (JPEG, quality 92), so that ingestion's deduplication keeps them all."""
    from PIL import Image, ImageOps

    folder = pathlib.Path(root) / f"photos_{count}"
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted((common.SHARED_DATA / "bsds500" / "train").glob("*.jpg"))
    variants = (None, ImageOps.mirror, lambda image: ImageOps.crop(image, (image.width // 20, image.height // 20)))
    if count > len(sources) * len(variants):
        raise SystemExit(f"at most {len(sources) * len(variants)} distinct photos")
    for index in range(count):
        variant, source = divmod(index, len(sources))
        if variants[variant] is None:
            shutil.copyfile(sources[source], folder / sources[source].name)
        else:
            with Image.open(sources[source]) as image:
                variants[variant](image.convert("RGB")).save(folder / f"{variant}_{sources[source].name}", quality=92)
    return folder


def folder_bytes(path):
    return sum(file.stat().st_size for file in pathlib.Path(path).rglob("*") if file.is_file())


def measured(run, output_dir):
    """Runs ``run()``; returns CPU-seconds (this process and finished children), wall seconds, bytes written."""
    cpu, wall = common.cpu_seconds(), time.perf_counter()
    result = run()
    figures = {"cpu_seconds": round(common.cpu_seconds() - cpu, 2), "wall_seconds": round(time.perf_counter() - wall, 2),
               "bytes": folder_bytes(output_dir), "loadavg": list(os.getloadavg())}
    return result, figures


def statistics_gen(raw, output_dir):
    from tfx.components.statistics_gen import executor as statistics_executor
    from tfx.dsl.components.base import base_beam_executor
    from tfx.types import standard_artifacts, standard_component_specs as specs

    from colornet.components.ingestion.component import stats_options

    statistics = standard_artifacts.ExampleStatistics()
    statistics.uri = str(output_dir)
    context = base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=IN_PROCESS)
    statistics_executor.Executor(context).Do(
        {specs.EXAMPLES_KEY: [raw]}, {specs.STATISTICS_KEY: [statistics]},
        {specs.STATS_OPTIONS_JSON_KEY: stats_options().to_json(), specs.EXCLUDE_SPLITS_KEY: json.dumps([])})


def export_model(config, graph, output_dir):
    """The untrained model of ``config`` (a ModelConfig) exported with the Transform graph, as a Trainer
    would; returns its path."""
    import tensorflow_transform as tft

    from colornet.components.model import export, network

    model = network.compile_model(network.build_model(config), config)
    return export.export_serving_model(model, tft.TFTransformOutput(graph), config.image_size, str(output_dir),
                                       verify=False)


def evaluate(model_dir, examples, output_dir):
    import tensorflow_model_analysis as tfma

    import local_training
    from colornet.components.evaluation.evaluator import eval_config

    config = eval_config()
    # A first run (no blessed baseline yet): the Evaluator component rubber-stamps it; run_model_analysis
    # has no such flag and refuses change thresholds without a baseline, so they are dropped (the value
    # thresholds, and every metric, are still computed).
    for spec in config.metrics_specs:
        for metric in spec.metrics:
            if metric.threshold.HasField("change_threshold"):
                metric.threshold.ClearField("change_threshold")
                if not metric.threshold.ListFields():
                    metric.ClearField("threshold")
    tfma.run_model_analysis(
        eval_shared_model=tfma.default_eval_shared_model(eval_saved_model_path=str(model_dir), eval_config=config),
        eval_config=config, data_location=local_training.split_files(examples, ["eval"])[0], file_format="tfrecords",
        output_path=str(output_dir))


def eval_photos(examples):
    import tensorflow as tf

    import local_training

    files = [path for pattern in local_training.split_files(examples, ["eval"]) for path in tf.io.gfile.glob(pattern)]
    return sum(1 for _ in tf.data.TFRecordDataset(files, "GZIP"))


def startup_seconds(root):
    """Wall seconds a multi-process DirectRunner job takes over an in-process one, on a one-photo folder."""
    import local_training

    folder = photo_folder(root, 1)
    walls = {}
    for name, args in (("in_process", IN_PROCESS), ("multi_process_2", MULTI_PROCESS)):
        _, figures = measured(lambda: local_training.ingest(folder, os.path.join(root, f"startup_{name}"), args),
                              os.path.join(root, f"startup_{name}"))
        walls[name] = figures["wall_seconds"]
        print(f"one-photo ingestion, {name}: {walls[name]:.1f} s wall", flush=True)
    return {"wall_seconds": walls, "multi_process_startup_seconds": round(walls["multi_process_2"] - walls["in_process"], 2)}


def large_photo_ingestion(repeats=3):
    """Ingestion's per-photo work (``photo.normalize``) on 12 MP photos, which it downscales to
    ``max_side`` and stores as PNG: CPU-seconds and stored bytes for a noisy synthetic photo (hard to
    compress: an upper bound) and a real photo upscaled to 12 MP (smooth: a lower bound)."""
    import io

    from PIL import Image

    from colornet.components.ingestion import photo
    from colornet.schemas.config import IngestionConfig
    from serve import photo_jpeg

    source = sorted((common.SHARED_DATA / "bsds500" / "train").glob("*.jpg"))[0]
    buffer = io.BytesIO()
    Image.open(source).convert("RGB").resize((4000, 3000), Image.BICUBIC).save(buffer, "JPEG", quality=90)
    figures = {}
    for name, encoded in (("synthetic_noisy", photo_jpeg(4000, 3000)), ("bsds_upscaled", buffer.getvalue())):
        cpu = time.process_time()
        for _ in range(repeats):
            stored = photo.normalize(encoded, IngestionConfig())
        figures[name] = {"jpeg_bytes": len(encoded), "cpu_seconds": round((time.process_time() - cpu) / repeats, 3),
                         "stored_bytes": len(stored.encoded)}
        print(f"12 MP photo ingested ({name}): {figures[name]}", flush=True)
    return figures


def folder_ingestion(root):
    """Wall seconds of ingesting all of bsds500 (300 photos) in-process and with 2 worker processes, and
    which of the two ``local_runner`` picks for that folder (with the ``full`` profile's model)."""
    import local_training
    from colornet.pipeline import local_runner
    from colornet.schemas.config import pipeline_config

    folder = common.SHARED_DATA / "bsds500"
    walls = {}
    for name, args in (("in_process", IN_PROCESS), ("multi_process_2", MULTI_PROCESS)):
        out = os.path.join(root, f"bsds500_{name}")
        _, figures = measured(lambda: local_training.ingest(folder, out, args), out)
        walls[name] = figures["wall_seconds"]
        print(f"bsds500 (300 photos) ingestion, {name}: {walls[name]:.1f} s wall", flush=True)
    chosen = local_runner.beam_args(pipeline_config("full", str(folder), root))
    return {"wall_seconds": walls, "local_runner_choice": chosen}


def per_photo(runs):
    """Slope and intercept of CPU-seconds against photos, from the runs at two sizes."""
    (small_n, small), (large_n, large) = sorted(runs.items())
    slope = (large["cpu_seconds"] - small["cpu_seconds"]) / (large_n - small_n)
    return {"cpu_seconds_per_photo": round(slope, 4), "fixed_cpu_seconds": round(small["cpu_seconds"] - slope * small_n, 2),
            "bytes_per_photo": round(large["bytes"] / large_n), "runs": {str(n): run for n, run in runs.items()}}


def main():
    args = parse_args()
    root = args.workdir or tempfile.mkdtemp(prefix="colornet-beam-stages-")
    print(f"work directory: {root}", flush=True)
    import local_training

    runs = {}  # stage name -> {photos: figures}
    raws, graphs, transformed = {}, {}, {}
    for count in args.photos:
        folder = photo_folder(root, count)
        base = os.path.join(root, f"n{count}")
        raws[count], figures = measured(lambda: local_training.ingest(folder, os.path.join(base, "raw")),
                                        os.path.join(base, "raw"))
        figures["photos_in"] = count
        runs.setdefault("examplegen", {})[count] = figures
        print(f"{count} photos: examplegen {figures}", flush=True)
        if "statisticsgen" in args.stages:
            _, figures = measured(lambda: statistics_gen(raws[count], os.path.join(base, "statistics")),
                                  os.path.join(base, "statistics"))
            runs.setdefault("statisticsgen", {})[count] = figures
            print(f"{count} photos: statisticsgen {figures}", flush=True)
        for profile in args.profiles if {"transform", "evaluator"} & set(args.stages) else []:
            settings = model_config(profile, args.model).to_dict()
            out = os.path.join(base, f"transform_{profile}")
            (graphs[profile, count], transformed[profile, count]), figures = measured(
                lambda: local_training.transform([raws[count]], out, settings), out)
            figures["bytes"] = folder_bytes(os.path.join(out, "transformed_0"))  # the examples, not the graph
            runs.setdefault(f"transform_{profile}", {})[count] = figures
            print(f"{count} photos: transform {profile} {figures}", flush=True)

    if "evaluator" in args.stages:
        for profile in args.profiles:
            model_dir = export_model(model_config(profile, args.model), graphs[profile, args.photos[-1]],
                                     os.path.join(root, f"model_{profile}"))
            for count in args.photos:
                out = os.path.join(root, f"n{count}", f"evaluation_{profile}")
                examples = transformed[profile, count] if args.evaluator_reads == "transformed" else [raws[count]]
                _, figures = measured(lambda: evaluate(model_dir, examples, out), out)
                figures["eval_photos"] = eval_photos(examples)
                runs.setdefault(f"evaluator_{profile}", {})[figures["eval_photos"]] = figures
                print(f"{count} photos: evaluator {profile} {figures}", flush=True)

    stages = {name: per_photo(by_count) for name, by_count in runs.items() if name.split("_")[0] in args.stages}
    print(f"\n{'stage':28s} {'CPU-s/photo':>12s} {'fixed CPU-s':>12s} {'KiB/photo':>10s}")
    for name, figures in stages.items():
        print(f"{name:28s} {figures['cpu_seconds_per_photo']:12.4f} {figures['fixed_cpu_seconds']:12.1f} "
              f"{figures['bytes_per_photo'] / 1024:10.1f}")
    ingestion = {}
    if "examplegen" in args.stages:  # ingestion's own figures: not needed to measure the other stages
        ingestion = {"large_photo_ingestion": large_photo_ingestion(), "startup": startup_seconds(root),
                     "bsds500_ingestion": folder_ingestion(root)}
        print(f"multi-process DirectRunner start-up: {ingestion['startup']['multi_process_startup_seconds']:.1f} s "
              "per Beam job")
    path = common.write_json(args.name, {
        **common.machine(), "photos": args.photos, "source": "bsds500/train (481x321 JPEG)",
        "model_overrides": args.model, "evaluator_reads": args.evaluator_reads, "stages": stages,
        **ingestion, "loadavg_end": os.getloadavg()})
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
