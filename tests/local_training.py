"""Test harness: ingestion, Transform and Trainer without orchestration, on this machine (tests and benchmarks).

The same executors and entry points as the pipeline, without a metadata store:

* ``ingest``: the photo ExampleGen (``ingestion.commands.ingest_folder``) on a folder -> raw Examples.
* ``transform``: TFX's Transform executor running ``model/transform.py``'s ``preprocessing_fn`` with Beam
  -> a transform graph and transformed Examples (gzipped TFRecords, one artifact per input).
* ``fn_args`` + ``model/trainer.py``'s ``run_fn``: real ``FnArgs`` (a ``DataAccessor`` over those
  TFRecords) with explicit train and eval files, so a held-out folder can be the eval data.
"""
import json
import os

from tfx.components.trainer import fn_args_utils
from tfx.components.transform import executor as transform_executor
from tfx.components.util import tfxio_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs as specs
from tfx.utils import io_utils, path_utils

from colornet.components.ingestion.commands import ingest_folder
from colornet.schemas import RAW_SCHEMA_DIR

SPLITS = ("train", "eval")
IN_PROCESS_BEAM = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
# The gate for pipeline runs on a dozen tiny photos whose wiring is under test: their eval splits hold
# a few photos (under the 50 that make a ratio mean something), and the classifier test and false color
# (measured at 224 px and on photo-sized edges) say nothing of 32 px duotones. The ab-MSE thresholds
# stay as they are; those measures are tested on real photos (test_blessing, test_evaluation_*).
TINY_PHOTO_GATE = {"min_eval_photos": 1, "min_top1_gain_over_gray": -1.0, "max_false_color_vs_original": 1e6}
TINY_PHOTO_GATE_FLAGS = ["--min-eval-photos", "1", "--min-top1-gain-over-gray", "-1",
                         "--max-false-color-vs-original", "1e6"]


def examples_artifact(uri, splits=SPLITS):
    """An Examples artifact over ``uri``'s ``Split-<name>`` folders (gzipped tf.Example TFRecords)."""
    examples = standard_artifacts.Examples()
    examples.uri = uri
    examples.split_names = artifact_utils.encode_split_names(list(splits))
    return examples


def ingest(images_dir, output_dir, beam_args=IN_PROCESS_BEAM):
    """Raw Examples of every usable photo under ``images_dir`` (train/eval split by content hash)."""
    ingest_folder(str(images_dir), str(output_dir), beam_pipeline_args=beam_args)
    return examples_artifact(str(output_dir))


def transform(raw_examples, output_dir, model_settings, beam_args=IN_PROCESS_BEAM):
    """Runs the Transform executor on a list of raw Examples artifacts; ``model_settings`` is its
    ``custom_config`` (``ModelConfig`` keys: the size, and the classifier for fusion).

    Returns (transform graph directory, transformed Examples artifacts in input order).
    """
    output_dir = str(output_dir)
    schema = standard_artifacts.Schema()
    schema.uri = str(RAW_SCHEMA_DIR)
    graph = standard_artifacts.TransformGraph()
    graph.uri = os.path.join(output_dir, "transform_graph")
    transformed = [examples_artifact(os.path.join(output_dir, f"transformed_{index}")) for index in range(len(raw_examples))]
    exec_properties = {
        specs.PREPROCESSING_FN_KEY: "colornet.components.model.transform.preprocessing_fn",
        specs.CUSTOM_CONFIG_KEY: json.dumps(model_settings),
        specs.DISABLE_STATISTICS_KEY: 1,
    }
    context = base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=list(beam_args))
    transform_executor.Executor(context).Do(
        {specs.EXAMPLES_KEY: list(raw_examples), specs.SCHEMA_KEY: [schema]},
        {specs.TRANSFORM_GRAPH_KEY: [graph], specs.TRANSFORMED_EXAMPLES_KEY: transformed},
        exec_properties,
    )
    return graph.uri, transformed


def split_files(examples, splits=SPLITS):
    """File patterns of the given splits of Examples artifacts."""
    return [io_utils.all_files_pattern(uri) for split in splits
            for uri in artifact_utils.get_split_uris(list(examples), split)]


def data_accessor(examples):
    """The ``DataAccessor`` the Trainer executor hands ``run_fn`` for these Examples artifacts."""
    examples = list(examples)
    return fn_args_utils.DataAccessor(
        tf_dataset_factory=tfxio_utils.get_tf_dataset_factory_from_artifact(examples, []),
        record_batch_factory=tfxio_utils.get_record_batch_factory_from_artifact(examples, []),
        data_view_decode_fn=tfxio_utils.get_data_view_decode_fn_from_artifact(examples, []),
    )


def fn_args(transform_graph, train_files, eval_files, all_examples, output_dir, custom_config,
            train_steps, eval_steps=1, base_model=None):
    """``FnArgs`` as the Trainer executor builds them, with the model written under ``output_dir``
    (``model/Format-Serving`` and ``model_run``, as TFX lays them out)."""
    model_uri = os.path.join(str(output_dir), "model")
    model_run_dir = os.path.join(str(output_dir), "model_run")
    for artifact_dir in (model_uri, model_run_dir):  # TFX creates output artifact directories
        os.makedirs(artifact_dir, exist_ok=True)
    return fn_args_utils.FnArgs(
        train_files=list(train_files),
        eval_files=list(eval_files),
        train_steps=train_steps,
        eval_steps=eval_steps,
        transform_graph_path=transform_graph,
        transform_output=transform_graph,
        data_accessor=data_accessor(all_examples),
        serving_model_dir=path_utils.serving_model_dir(model_uri),
        eval_model_dir=path_utils.eval_model_dir(model_uri),
        model_run_dir=model_run_dir,
        base_model=base_model,
        custom_config=dict(custom_config),
    )
