"""Runs the pipeline with BeamDagRunner: the orchestration itself is a Beam job, run here.

Everything else is ``local_runner.run``'s: SQLite metadata under the workdir, freshness check,
progress lines, and the Beam args, which go to every component's Beam jobs.
"""
from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

from . import local_runner


def run(config):
    """Runs the whole pipeline once under BeamDagRunner (unless nothing changed); returns whether it ran."""
    return local_runner.run(config, BeamDagRunner())
