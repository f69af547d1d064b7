"""Runs the pipeline on this machine: LocalDagRunner, SQLite ML Metadata, Beam DirectRunner."""
import dataclasses
import logging
import os

from tfx import v1 as tfx

from ..components.evaluation.evaluator import latest_verdict
from . import disk_space
from . import pipeline as pipeline_lib
from .freshness import run_unless_unchanged
from .progress import component_progress

# Multi-processing DirectRunner uses every core; callers' Beam args come after and win.
DEFAULT_BEAM_ARGS = ["--direct_running_mode=multi_processing", "--direct_num_workers=0"]


def run(config, dag_runner=None):
    """Runs the whole pipeline once (unless nothing changed: see ``freshness``); returns whether it ran.

    ``dag_runner`` orchestrates (default: ``LocalDagRunner``); metadata is SQLite under the workdir.
    """
    os.makedirs(config.workdir, exist_ok=True)
    disk_space.warn_if_low(config.workdir)
    config = dataclasses.replace(config, beam_args=DEFAULT_BEAM_ARGS + list(config.beam_args))
    metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path)
    logging.info("Running pipeline %s under %s (metadata: %s)", config.pipeline_name, config.workdir, config.metadata_path)
    pipeline = pipeline_lib.create_pipeline(config, metadata)

    def execute():
        with component_progress():
            (dag_runner or tfx.orchestration.LocalDagRunner()).run(pipeline)
        verdict = latest_verdict(config.pipeline_root)
        outcome = verdict.line() if verdict else "no Evaluator verdict (the run stopped before the Evaluator)"
        print(outcome, flush=True)
        return outcome

    return run_unless_unchanged(config, execute)
