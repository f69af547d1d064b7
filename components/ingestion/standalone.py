"""Ingestion without TFX orchestration: one Beam pipeline (DirectRunner by default), no metadata store.

It runs ``PhotoExampleGenExecutor`` directly, so the photo logic, the content-hash split and the
output layout are exactly those of the pipeline's ExampleGen:

    <output>/Split-train/data_tfrecord-*.gz, <output>/Split-eval/data_tfrecord-*.gz  (gzip TFRecords)
    <output>/ingestion_summary.json
"""
from typing import Sequence

from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts, standard_component_specs as specs
from tfx.utils import proto_utils

from colornet.components.ingestion import config as config_lib
from colornet.components.ingestion.component import default_input_config, default_output_config
from colornet.components.ingestion.executor import PhotoExampleGenExecutor
from colornet.components.ingestion.summary import SUMMARY_FILE_NAME, IngestionSummary


def ingest_folder(images_dir: str, output_dir: str, config: config_lib.IngestionConfig = config_lib.IngestionConfig(),
                  beam_pipeline_args: Sequence[str] = ()) -> IngestionSummary:
    """Ingests every photo under ``images_dir`` into ``output_dir``; raises
    ``executor.NoUsablePhotosError`` when not a single photo is usable."""
    examples = standard_artifacts.Examples()
    examples.uri = output_dir
    exec_properties = {
        specs.INPUT_BASE_KEY: images_dir,
        specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(default_input_config()),
        specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(default_output_config()),
        specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
        specs.OUTPUT_FILE_FORMAT_KEY: example_gen_pb2.FORMAT_TFRECORDS_GZIP,
        specs.CUSTOM_CONFIG_KEY: proto_utils.proto_to_json(config_lib.to_custom_config(config.to_dict())),
    }
    context = base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=list(beam_pipeline_args))
    PhotoExampleGenExecutor(context).Do({}, {specs.EXAMPLES_KEY: [examples]}, exec_properties)
    return IngestionSummary.read(f"{output_dir.rstrip('/')}/{SUMMARY_FILE_NAME}")


def direct_runner_args(num_workers: int) -> list:
    """Beam args for the DirectRunner: 1 = in-process; N > 1 (or 0 = one per core) = N worker processes."""
    if num_workers == 1:
        return ["--direct_num_workers=1"]
    return ["--direct_running_mode=multi_processing", f"--direct_num_workers={num_workers}"]
