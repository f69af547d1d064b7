"""Runs the pipeline with BeamDagRunner: the orchestration itself is a Beam job.

Beam args pass straight through to the orchestrator and to every component's Beam jobs,
so ``--runner=FlinkRunner`` (``--flink_master=...``), ``--runner=SparkRunner`` or
``--runner=DataflowRunner`` (``--project``, ``--region``, ``--temp_location``) move the
work; with none the DirectRunner runs it here. Metadata stays in SQLite under the workdir
unless a runner-specific deployment supplies another connection.
"""
import os

from tfx import v1 as tfx
from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

from colornet.pipeline import pipeline as pipeline_lib
from colornet.pipeline.freshness import run_unless_unchanged
from colornet.pipeline.progress import component_progress


def run(config):
    """Runs the whole pipeline once under BeamDagRunner (unless nothing changed); returns whether it ran."""
    os.makedirs(config.workdir, exist_ok=True)
    metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path)
    pipeline = pipeline_lib.create_pipeline(config, metadata)

    def execute():
        with component_progress():
            BeamDagRunner(beam_orchestrator_args=list(config.beam_args)).run(pipeline)

    return run_unless_unchanged(config, execute)
