"""Compiles the pipeline for Kubeflow Pipelines (KFP v2 IR) with KubeflowV2DagRunner.

The JSON it writes is what ``kfp.Client().create_run_from_pipeline_package`` or Vertex AI
Pipelines submit. Every step runs ``image``, which must have colornet installed (the
repository's ``pip install .`` on a TFX 1.16 base image). ``images_dir`` and ``workdir``
must then be paths the cluster sees (``gs://...``, a mounted volume). Continuous retraining
on Kubeflow is a recurring run of this package (KFP "recurring run" / Vertex scheduler).

TFX 1.16's KFP v2 compiler accepts only the LatestArtifact and LatestBlessedModel resolver
strategies, not SpanRangeStrategy: a compiled pipeline trains on the newest span (warm-started
from the last blessed model, which carries what earlier spans taught), never a rolling window.
"""
import dataclasses
import os

from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx

from . import pipeline as pipeline_lib

TRAINER_ID = "Trainer"


@dataclasses.dataclass(frozen=True)
class KubeflowSettings:
    """Where the steps run: the container image and the Trainer's resources."""

    image: str = "colornet:latest"
    trainer_gpu_type: str = ""  # e.g. "NVIDIA_TESLA_T4"; empty: no accelerator request
    trainer_gpu_count: int = 1
    trainer_cpu: float = 4.0
    trainer_memory_gib: float = 16.0


def _trainer_resources(settings):
    spec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec(
        cpu_limit=settings.trainer_cpu, memory_limit=settings.trainer_memory_gib)
    if settings.trainer_gpu_type:
        spec.accelerator.type = settings.trainer_gpu_type
        spec.accelerator.count = settings.trainer_gpu_count
    return spec


def compile_pipeline(config, output_path, settings=KubeflowSettings()):
    """Writes the pipeline's KFP v2 JSON to ``output_path``; returns the path."""
    if config.rolling_spans > 1:
        raise ValueError("Kubeflow V2 cannot compile a rolling span window (SpanRangeStrategy); "
                         "use rolling_spans=1: the newest span with warm start")
    pipeline = pipeline_lib.create_pipeline(config)
    for component in pipeline.components:
        if component.id == TRAINER_ID:
            component.with_platform_config(_trainer_resources(settings))
    output_dir, output_filename = os.path.split(os.path.abspath(output_path))
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=settings.image),
        output_dir=output_dir,
        output_filename=output_filename,
    )
    runner.run(pipeline, write_out=True)
    return output_path
