"""``colornet ingest``: a photo folder -> train/eval TFRecords and a summary, without the rest of the pipeline.

``ingest_folder`` runs the pipeline's own ExampleGen executor directly (one Beam pipeline, no
metadata store), so the photo checks, the content-hash split and the output layout are exactly
those of the pipeline:

    <output>/Split-train/data_tfrecord-*.gz, <output>/Split-eval/data_tfrecord-*.gz  (gzip TFRecords)
    <output>/ingestion_summary.json
"""
import logging
from typing import Sequence

from ...schemas.config import IngestionConfig, add_section_flags, section_overrides
from ...schemas.photo_files import printable


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="ingest a photo folder into train/eval TFRecords (no TFX metadata)",
        description="Reads every photo under --images (nested folders included), rejects what cannot train a "
                    "colorizer (corrupt, tiny, huge, black-and-white, duplicate...) and what is not a photo file "
                    "(FIFOs, sockets, devices, symlink loops), writes upright RGB tf.Examples with each photo's "
                    "provenance (from the .provenance.jsonl beside it, if any) to --output/Split-train and "
                    "--output/Split-eval (gzip TFRecords, split by content hash) and --output/ingestion_summary.json.")
    parser.add_argument("--images", required=True, help="folder of photos")
    parser.add_argument("--output", required=True, help="output folder")
    add_section_flags(parser, IngestionConfig)
    parser.add_argument("--direct-num-workers", type=int, default=1,
                        help="Beam DirectRunner workers: 1 in-process, N processes, 0 one per core (default: 1)")
    parser.set_defaults(func=run)


def direct_runner_args(num_workers: int) -> list:
    """Beam args for the DirectRunner: 1 = in-process; N > 1 (or 0 = one per core) = N worker processes."""
    if num_workers == 1:
        return ["--direct_num_workers=1"]
    return ["--direct_running_mode=multi_processing", f"--direct_num_workers={num_workers}"]


def ingest_folder(images_dir: str, output_dir: str, config: IngestionConfig = IngestionConfig(),
                  beam_pipeline_args: Sequence[str] = ()):
    """Ingests every photo under ``images_dir`` into ``output_dir``; returns the ``IngestionSummary``.

    Raises ``executor.NoUsablePhotosError`` when not a single photo is usable.
    """
    # TFX and Beam load only when ingestion runs, so `colornet --help` stays quick.
    from tfx.dsl.components.base import base_beam_executor
    from tfx.proto import example_gen_pb2
    from tfx.types import standard_artifacts
    from tfx.types import standard_component_specs as specs
    from tfx.utils import proto_utils

    from . import component
    from .executor import PhotoExampleGenExecutor
    from .summary import SUMMARY_FILE_NAME, IngestionSummary

    examples = standard_artifacts.Examples()
    examples.uri = output_dir
    exec_properties = {
        specs.INPUT_BASE_KEY: images_dir,
        specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(component.default_input_config()),
        specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(component.split_output_config(config.eval_percent)),
        specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
        specs.OUTPUT_FILE_FORMAT_KEY: example_gen_pb2.FORMAT_TFRECORDS_GZIP,
        specs.CUSTOM_CONFIG_KEY: proto_utils.proto_to_json(component.to_custom_config(config.to_dict())),
    }
    context = base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=list(beam_pipeline_args))
    PhotoExampleGenExecutor(context).Do({}, {specs.EXAMPLES_KEY: [examples]}, exec_properties)
    return IngestionSummary.read(f"{output_dir.rstrip('/')}/{SUMMARY_FILE_NAME}")


def _show_progress() -> None:
    """Ingestion's progress lines on stderr, without the INFO flood of TFX and Beam; the summary is
    printed by ``run`` (the executor's own summary log line would repeat it)."""
    from . import executor

    progress = logging.getLogger(executor.PROGRESS_LOGGER)
    progress.setLevel(logging.INFO)
    progress.propagate = False
    if not progress.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        progress.addHandler(handler)
    logging.getLogger(executor.__name__).setLevel(logging.WARNING)


def run(args) -> int:
    from .executor import NoUsablePhotosError

    _show_progress()
    config = IngestionConfig.from_dict(section_overrides(args, IngestionConfig))
    try:
        summary = ingest_folder(args.images, args.output, config, direct_runner_args(args.direct_num_workers))
    except NoUsablePhotosError as error:
        print(error)
        return 1
    print(summary.describe())
    print(f"Examples and ingestion_summary.json written to {printable(args.output)}")
    return 0
