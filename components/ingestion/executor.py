"""The TFX executor of ``PhotoExampleGen``.

``GetInputSourceToExamplePTransform`` hands ExampleGen the shared ``ingest.IngestPhotos`` for each
input split pattern; ExampleGen itself does the splitting, span handling and TFRecord writing.
``Do`` adds the summary: per-file outcomes are written as JSON lines under the Examples
artifact while the Beam pipeline runs, then merged over splits into
``<examples uri>/ingestion_summary.json`` and logged. A run with zero usable photos fails here,
with the summary in the message.
"""
import hashlib
import logging
import os
from typing import Any, Dict, List

import apache_beam as beam
import tensorflow as tf
from tfx import types
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.types import artifact_utils, standard_component_specs

from colornet.components.ingestion import config as config_lib
from colornet.components.ingestion import ingest
from colornet.components.ingestion.summary import SUMMARY_FILE_NAME, IngestionSummary, read_outcome_lines

_LOG = logging.getLogger(__name__)

# Scratch folder (inside the Examples artifact) for the outcome files of one run; removed after merging.
_OUTCOMES_DIR_NAME = ".ingestion_outcomes"
# exec_properties key through which Do tells the per-split PTransforms where to write outcomes.
_OUTCOMES_DIR_KEY = "_colornet_outcomes_dir"


class NoUsablePhotosError(ValueError):
    """The input folder produced zero training examples."""


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _PhotosToExample(pipeline, exec_properties: Dict[str, Any], split_pattern: str):  # pylint: disable=invalid-name
    config = config_lib.from_custom_config_json(exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY))
    ingested = pipeline | "IngestPhotos" >> ingest.IngestPhotos(
        exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern, config)
    pattern_key = hashlib.sha256(split_pattern.encode()).hexdigest()[:12]
    _ = ingested.outcomes | "WriteOutcomes" >> ingest.WriteOutcomes(
        os.path.join(exec_properties[_OUTCOMES_DIR_KEY], pattern_key))
    return ingested.examples


class PhotoExampleGenExecutor(BaseExampleGenExecutor):
    """ExampleGen executor for folders of photos (see ``ingest`` for what happens to each file)."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _PhotosToExample

    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        if not tf.io.gfile.isdir(input_base):
            raise NoUsablePhotosError(f"Photo folder {input_base} does not exist or is not a folder.")
        examples_uri = artifact_utils.get_single_uri(output_dict[standard_component_specs.EXAMPLES_KEY])
        outcomes_dir = os.path.join(examples_uri, _OUTCOMES_DIR_NAME)
        if tf.io.gfile.exists(outcomes_dir):  # left by an interrupted attempt: its shards must not be merged
            tf.io.gfile.rmtree(outcomes_dir)
        super().Do(input_dict, output_dict, {**exec_properties, _OUTCOMES_DIR_KEY: outcomes_dir})

        summary = IngestionSummary.from_outcomes(read_outcome_lines(os.path.join(outcomes_dir, "*")))
        summary_path = os.path.join(examples_uri, SUMMARY_FILE_NAME)
        summary.write(summary_path)
        tf.io.gfile.rmtree(outcomes_dir)
        _LOG.info("%s\nSummary: %s", summary.describe(), summary_path)
        if not summary.accepted:
            raise NoUsablePhotosError(
                f"No usable photos in {input_base}: "
                f"{summary.describe()}\nSee {summary_path}.")
