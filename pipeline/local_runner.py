"""Runs the pipeline on this machine: LocalDagRunner, SQLite ML Metadata, Beam DirectRunner.

Beam's DirectRunner runs a job either in this process (one worker) or in one worker process per
core. A multi-process job first starts its workers, each importing TensorFlow and TFX, before it
takes a single photo: tens of seconds per Beam job on a small machine, and a pipeline run has
four Beam jobs (ExampleGen, StatisticsGen, Transform, Evaluator). Spreading the photos over the
cores pays that back only for enough photos, and "enough" depends on what a photo costs, which
the classifier embedding dominates (Transform and the Evaluator compute it). So ``beam_args``
counts the photo files (stopping at the threshold, so a huge folder costs no more than the
threshold's worth of listing) and picks multi-processing from ``MULTIPROCESS_MIN_PHOTOS``
photos on. Any DirectRunner flag the user gives (``--beam-arg``) replaces the choice, and so does
another runner named for the components' Beam jobs, whose options these are not
(``--direct_num_workers=0`` would reach a portable job server as "one worker per CPU").
"""
import dataclasses
import itertools
import logging
import os

from tfx import v1 as tfx

from ..components.evaluation.evaluator import latest_verdict
from ..components.ingestion import spans
from ..components.ingestion.listing import is_remote
from . import disk_space, span_window
from . import pipeline as pipeline_lib
from .beam_options import uses_direct_runner
from .freshness import run_unless_unchanged, visible_files
from .progress import component_progress

IN_PROCESS_BEAM_ARGS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
MULTI_PROCESS_BEAM_ARGS = ["--direct_running_mode=multi_processing", "--direct_num_workers=0"]  # 0: one per core
# DirectRunner flags with which the user takes the choice over.
_USER_DIRECT_FLAGS = ("--direct_running_mode", "--direct_num_workers")

# Photos from which one worker per core finishes sooner than one in-process worker, by the classifier
# the model fuses (None: none). Break-even of benchmarks/beam_stages.py's
# figures (results/beam_stages.json) on 2 cores: 4 jobs x multi-process start-up per job =
# photos x CPU-seconds per photo over the four stages x (1 - 1/2); see docs/scale.md.
# efficientnet_lite0: not measured; set as mobilenet_v2 (an estimate: the two cost about the same per photo).
MULTIPROCESS_MIN_PHOTOS = {None: 15_000, "mobilenet_v2": 3_000, "efficientnet_lite0": 3_000, "inception_resnet_v2": 600}


def count_files(images_dir, limit):
    """Files under ``images_dir`` (hidden entries skipped), counting no further than ``limit``;
    None for a remote folder (``gs://...``), where listing is not cheap."""
    if is_remote(str(images_dir)):
        return None
    return sum(1 for _ in itertools.islice(visible_files(images_dir), limit))


def beam_args(config):
    """The DirectRunner settings for this run, followed by the user's Beam args."""
    user_args = list(config.beam_args)
    if not uses_direct_runner(user_args) or any(arg.split("=")[0] in _USER_DIRECT_FLAGS for arg in user_args):
        return user_args
    threshold = MULTIPROCESS_MIN_PHOTOS[config.model.backbone if config.model.uses_classifier else None]
    photos = count_files(config.images_dir, threshold)
    multi = photos is None or photos >= threshold
    logging.info("Beam DirectRunner: %s (%s photo files; multi-processing from %d for this model)",
                 "one worker process per core" if multi else "in-process",
                 "remote folder, not counted" if photos is None else photos, threshold)
    return (MULTI_PROCESS_BEAM_ARGS if multi else IN_PROCESS_BEAM_ARGS) + user_args


def _ingested_spans(config, metadata):
    """{span: its newest Examples artifact id} of the spans this pipeline's ExampleGen ingested."""
    return span_window.ingested_spans(metadata, config.pipeline_name, pipeline_lib.EXAMPLE_GEN_ID)


def _ingest_new_spans(config, metadata, ingested):
    """Ingests the span folders not in ``ingested`` (ML Metadata's), except the newest (the pipeline
    run ingests it), oldest first, one ingestion-only run each."""
    span_plan = span_window.plan(spans.span_numbers(config.images_dir), ingested, config.rolling_spans)
    print(span_plan.line(), flush=True)
    for span in span_plan.before_run:
        print(f"Ingesting span {span}", flush=True)
        with component_progress():
            tfx.orchestration.LocalDagRunner().run(pipeline_lib.create_span_ingestion_pipeline(config, span, metadata))


def _span_record(config, metadata, ingested_before):
    """The spans this run ingested and the spans its model was trained on, as ML Metadata has them."""
    ingested = _ingested_spans(config, metadata)
    trained = span_window.trained_spans(metadata, config.pipeline_name, pipeline_lib.TRANSFORM_ID)
    print(f"Trained on spans {trained}", flush=True)
    return {"ingested_spans": sorted(span for span, artifact in ingested.items()
                                     if ingested_before.get(span) != artifact),
            "trained_spans": trained}


def run(config):
    """Runs the whole pipeline once (unless nothing changed: see ``freshness``); returns whether it ran.

    ``LocalDagRunner`` orchestrates here; metadata is SQLite in ``config.metadata_path`` (a local
    file, for a remote workdir too). With span folders, every span not ingested yet is ingested
    first (``span_window``), and the run's record names the spans ingested and trained on.
    """
    os.makedirs(config.local_state_dir, exist_ok=True)
    if not is_remote(config.workdir):
        disk_space.warn_if_low(config.workdir)
    config = dataclasses.replace(config, beam_args=beam_args(config))
    metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path)
    logging.info("Running pipeline %s under %s (metadata: %s)", config.pipeline_name, config.workdir, config.metadata_path)
    pipeline = pipeline_lib.create_pipeline(config, metadata)

    def execute():
        ingested_before = _ingested_spans(config, metadata) if config.spans else {}
        if config.spans:
            _ingest_new_spans(config, metadata, ingested_before)
        with component_progress():
            tfx.orchestration.LocalDagRunner().run(pipeline)
        verdict = latest_verdict(config.pipeline_root, config.blessing)
        outcome = verdict.line() if verdict else "no Evaluator verdict (the run stopped before the Evaluator)"
        print(outcome, flush=True)
        return {"outcome": outcome, **(_span_record(config, metadata, ingested_before) if config.spans else {})}

    return run_unless_unchanged(config, execute)
