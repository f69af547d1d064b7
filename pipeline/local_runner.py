"""Runs the pipeline on this machine: LocalDagRunner, SQLite ML Metadata, Beam DirectRunner (unless the
Beam args name another runner for the components' Beam jobs)."""
import dataclasses
import logging
import os

from tfx import v1 as tfx

from ..components.evaluation.evaluator import latest_verdict
from . import disk_space
from . import pipeline as pipeline_lib
from .beam_options import uses_direct_runner
from .freshness import run_unless_unchanged
from .progress import component_progress

# Multi-processing DirectRunner uses every core; callers' Beam args come after and win.
DEFAULT_BEAM_ARGS = ["--direct_running_mode=multi_processing", "--direct_num_workers=0"]


def with_direct_runner_defaults(beam_args):
    """``DEFAULT_BEAM_ARGS`` then ``beam_args`` (which win), when the components' Beam jobs run on the
    DirectRunner; ``beam_args`` alone when they name another runner, whose options these are not
    (``--direct_num_workers=0`` would reach a portable job server as "one worker per CPU")."""
    return DEFAULT_BEAM_ARGS + list(beam_args) if uses_direct_runner(beam_args) else list(beam_args)


def run(config):
    """Runs the whole pipeline once (unless nothing changed: see ``freshness``); returns whether it ran.

    ``LocalDagRunner`` orchestrates here; metadata is SQLite under the workdir.
    """
    os.makedirs(config.workdir, exist_ok=True)
    disk_space.warn_if_low(config.workdir)
    config = dataclasses.replace(config, beam_args=with_direct_runner_defaults(config.beam_args))
    metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path)
    logging.info("Running pipeline %s under %s (metadata: %s)", config.pipeline_name, config.workdir, config.metadata_path)
    pipeline = pipeline_lib.create_pipeline(config, metadata)

    def execute():
        with component_progress():
            tfx.orchestration.LocalDagRunner().run(pipeline)
        verdict = latest_verdict(config.pipeline_root)
        outcome = verdict.line() if verdict else "no Evaluator verdict (the run stopped before the Evaluator)"
        print(outcome, flush=True)
        return outcome

    return run_unless_unchanged(config, execute)
