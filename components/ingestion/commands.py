"""``colornet ingest``: ingest a photo folder into train/eval TFRecords, without the rest of the pipeline."""
import dataclasses
import logging

from colornet.components.ingestion.config import IngestionConfig


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="ingest a photo folder into train/eval TFRecords (no TFX metadata)",
        description="Reads every photo under --images (nested folders included), rejects what cannot train a "
                    "colorizer (corrupt, tiny, huge, black-and-white, duplicate...), writes upright RGB tf.Examples "
                    "to --output/Split-train and --output/Split-eval (gzip TFRecords, 2:1 by content hash) and "
                    "--output/ingestion_summary.json.")
    parser.add_argument("--images", required=True, help="folder of photos")
    parser.add_argument("--output", required=True, help="output folder")
    for field in dataclasses.fields(IngestionConfig):
        parser.add_argument(f"--{field.name.replace('_', '-')}", dest=field.name, type=field.type,
                            default=field.default, help=f"(default: {field.default}; see ingestion/config.py)")
    parser.add_argument("--direct-num-workers", type=int, default=1,
                        help="Beam DirectRunner workers: 1 in-process, N processes, 0 one per core (default: 1)")
    parser.set_defaults(func=run)


def _show_progress(executor, ingest) -> None:
    """Ingestion's progress lines on stderr, without the INFO flood of TFX and Beam; the summary is
    printed by ``run`` (the executor's own summary log line would repeat it)."""
    progress = logging.getLogger(ingest.__name__)
    progress.setLevel(logging.INFO)
    progress.propagate = False
    if not progress.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        progress.addHandler(handler)
    logging.getLogger(executor.__name__).setLevel(logging.WARNING)


def run(args) -> int:
    # TFX and Beam load only when ingestion runs, so `colornet --help` stays quick.
    from colornet.components.ingestion import executor, ingest, standalone

    _show_progress(executor, ingest)
    config = IngestionConfig(**{field.name: getattr(args, field.name) for field in dataclasses.fields(IngestionConfig)})
    try:
        summary = standalone.ingest_folder(args.images, args.output, config,
                                           standalone.direct_runner_args(args.direct_num_workers))
    except executor.NoUsablePhotosError as error:
        print(error)
        return 1
    print(summary.describe())
    print(f"Examples and ingestion_summary.json written to {args.output}")
    return 0
