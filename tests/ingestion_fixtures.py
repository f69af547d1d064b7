"""Shared helpers for the ingestion tests: real photo files and a real LocalDagRunner pipeline."""
import glob
import os
import shutil

import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2

from conftest import SHARED_DATA

DATA_DIR = str(SHARED_DATA)
SEED_DIR = os.path.join(DATA_DIR, "seed-unsplash")


def copy_photos(source_glob: str, destination: str, limit: int = None) -> list:
    """Copies real photos into a test folder; returns the destination paths."""
    os.makedirs(destination, exist_ok=True)
    copied = []
    for path in sorted(glob.glob(source_glob))[:limit]:
        target = os.path.join(destination, os.path.basename(path))
        shutil.copyfile(path, target)
        copied.append(target)
    return copied


def run_local_pipeline(tmp_path, components, name="ingestion-test"):
    """Runs components in a real LocalDagRunner pipeline with SQLite metadata under tmp_path."""
    from tfx import v1 as tfx

    root = os.path.join(str(tmp_path), "pipeline")
    pipeline = tfx.dsl.Pipeline(
        pipeline_name=name,
        pipeline_root=root,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            os.path.join(str(tmp_path), "metadata.sqlite")),
        components=components,
        beam_pipeline_args=["--direct_num_workers=1"],
    )
    tfx.orchestration.LocalDagRunner().run(pipeline)
    return root


def validated(examples, suffix, schema):
    """StatisticsGen (with colornet's stats options) and an ExampleValidator against ``schema``, for
    ``run_local_pipeline``; ids end in ``.<suffix>``."""
    from tfx import v1 as tfx

    from colornet.components.ingestion.component import stats_options

    statistics = tfx.components.StatisticsGen(examples=examples, stats_options=stats_options()).with_id(
        f"StatisticsGen.{suffix}")
    validator = tfx.components.ExampleValidator(
        statistics=statistics.outputs["statistics"], schema=schema).with_id(f"ExampleValidator.{suffix}")
    return [statistics, validator]


def output_uri(pipeline_root: str, component_id: str, output_key: str) -> str:
    """The (single) artifact folder a component wrote in a LocalDagRunner run."""
    uris = glob.glob(os.path.join(pipeline_root, component_id, output_key, "*"))
    assert len(uris) == 1, uris
    return uris[0]


def read_anomalies(pipeline_root, validator_id, split):
    """What an ExampleValidator found in one split (an empty ``anomaly_info`` when nothing)."""
    path = os.path.join(output_uri(pipeline_root, validator_id, "anomalies"), f"Split-{split}", "SchemaDiff.pb")
    return anomalies_pb2.Anomalies.FromString(tf.io.gfile.GFile(path, "rb").read())


def read_examples(split_dir: str) -> list:
    """All tf.Examples in a Split-<name> folder of gzip TFRecords."""
    files = sorted(glob.glob(os.path.join(split_dir, "*.gz")))
    return [tf.train.Example.FromString(record.numpy())
            for record in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def feature_value(example, name):
    feature = example.features.feature[name]
    values = feature.bytes_list.value or feature.int64_list.value
    assert len(values) == 1, (name, feature)
    return values[0]
