"""Compiles the pipeline for Kubeflow Pipelines v2 with TFX's ``KubeflowV2DagRunner``, for two targets.

* ``vertex``: Vertex AI Pipelines. A ``PipelineJob`` JSON (``aiplatform.PipelineJob(template_path=...)``)
  with TFX's ``LatestBlessedModel`` resolver, which Vertex runs; the Trainer's accelerator is a
  Vertex type (``NVIDIA_TESLA_T4``).
* ``kfp``: open-source Kubeflow Pipelines (backend 2.0.x, the one kfp 2.5's client speaks to). What
  ``kfp.Client().create_run_from_pipeline_package`` and ``create_recurring_run`` load: a YAML file whose
  first document is a bare ``PipelineSpec`` (schema 2.1.0, the only one the backend accepts) and whose
  optional second document is a Kubernetes ``PlatformSpec``. The backend's Argo compiler runs container
  and importer executors only, so the last blessed model goes through a fixed URI that the Pusher
  publishes to and an Importer reads (``pipeline.create_pipeline(last_blessed_uri=...)``); the driver
  puts the accelerator type verbatim into the pod's resource limits, so it is a Kubernetes resource
  name (``nvidia.com/gpu``), and the GPU model is chosen with a node selector.

Both use pipeline spec schema 2.1.0: the open-source backend accepts nothing else, and TFX's own Vertex
end-to-end tests run both 2.0.0 and 2.1.0 specs (not submitted to Vertex from here).

What the open-source backend ignores (kubeflow/pipelines backend 2.0.5, read, not run here):
* ``container.lifecycle.preCacheCheck``, where TFX puts ExampleGen's driver. Without it the span
  pattern (``span-{SPAN}``) is never resolved, so ``--spans`` is refused for ``kfp``; and ExampleGen's
  cache key would never change with new photos, so its caching is turned off (every run re-ingests,
  and so retrains).
* the spec's ``defaultPipelineRoot``: the run's ``pipeline_root`` comes from the submission (or the
  ``kfp-launcher`` ConfigMap, ``minio://...``, which TensorFlow cannot write). Submit with
  ``pipeline_root=<workdir>/tfx``, the root the package was compiled for: the last blessed URI and the
  serving folder are fixed at compile time under the same workdir.

Every step runs the image given for it (``pipeline/docker/``: a CPU image, and a GPU image for the
Trainer); ``images_dir``, ``workdir`` and ``schema_file`` must be paths the pods see (gs://, s3://).
"""
import dataclasses
import os

import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx

from . import pipeline as pipeline_lib
from ..schemas.config import KUBEFLOW_TARGETS, ConfigError

# The executor kinds the open-source backend's Argo compiler implements (compiler/visitor.go).
KFP_EXECUTOR_KINDS = ("container", "importer")
# Vertex's AcceleratorType names (NVIDIA_TESLA_T4, NVIDIA_L4, ...); Kubernetes resource names have a domain.
_VERTEX_ACCELERATOR_PREFIX = "NVIDIA_"
# TFX's key for "every other component" in a per-component image map.
_DEFAULT_IMAGE_KEY = "default_image_path"


@dataclasses.dataclass(frozen=True)
class KubeflowSettings:
    """Where the steps run: the target, the images and the Trainer's resources."""

    target: str = "vertex"
    image: str = "colornet:cpu"
    trainer_image: str = ""  # empty: ``image``
    # vertex: an accelerator type such as NVIDIA_TESLA_T4; kfp: a Kubernetes resource name such as
    # nvidia.com/gpu. Empty: no accelerator.
    trainer_gpu: str = ""
    trainer_gpu_count: int = 1
    trainer_cpu: float = 4.0
    trainer_memory_gib: float = 16.0
    trainer_node_selector: tuple = ()  # ((label, value), ...): kfp only

    def __post_init__(self):
        if self.target not in KUBEFLOW_TARGETS:
            raise ConfigError(f"target must be one of {list(KUBEFLOW_TARGETS)}, got {self.target!r}")
        if self.trainer_gpu and self.trainer_gpu_count < 1:
            raise ConfigError(f"trainer_gpu_count must be >= 1, got {self.trainer_gpu_count}")
        vertex_name = self.trainer_gpu.startswith(_VERTEX_ACCELERATOR_PREFIX)
        if self.trainer_gpu and self.target == "kfp" and (vertex_name or "/" not in self.trainer_gpu):
            raise ConfigError(
                f"--trainer-gpu {self.trainer_gpu}: open-source Kubeflow requests the Kubernetes resource by name "
                "(e.g. nvidia.com/gpu); choose the GPU model with --trainer-node-selector "
                "(e.g. cloud.google.com/gke-accelerator=nvidia-tesla-t4)")
        if self.trainer_gpu and self.target == "vertex" and not vertex_name:
            raise ConfigError(f"--trainer-gpu {self.trainer_gpu}: Vertex AI takes an accelerator type such as "
                              "NVIDIA_TESLA_T4 (Kubernetes resource names are for --target kfp)")
        if self.trainer_node_selector and self.target != "kfp":
            raise ConfigError("--trainer-node-selector is for --target kfp (Vertex places GPUs by accelerator type)")

    @property
    def images(self):
        """KubeflowV2DagRunnerConfig's ``default_image``: one image, or the Trainer's apart. (For a map, TFX
        1.16 logs "DEFAULT_IMAGE_PATH_KEY is not found in default_image" when it is there: its test is inverted.)"""
        if not self.trainer_image or self.trainer_image == self.image:
            return self.image
        return {_DEFAULT_IMAGE_KEY: self.image, pipeline_lib.TRAINER_ID: self.trainer_image}


def last_blessed_uri(config):
    """Where the ``kfp`` target keeps the last blessed model: under the pipeline root, so that KFP's
    launcher reads it with the pipeline root's own credentials."""
    return os.path.join(config.pipeline_root, "last_blessed", config.pipeline_name)


def _trainer_resources(settings):
    spec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec(
        cpu_limit=settings.trainer_cpu, memory_limit=settings.trainer_memory_gib)
    if settings.trainer_gpu:
        spec.accelerator.type = settings.trainer_gpu
        spec.accelerator.count = settings.trainer_gpu_count
    return spec


def _check_config(config, settings):
    if config.rolling_spans > 1:
        raise ConfigError("Kubeflow cannot compile a rolling span window (TFX's Kubeflow V2 compiler runs no "
                          "custom resolver strategy); use rolling_spans=1: the newest span with warm start")
    if config.spans and settings.target == "kfp":
        raise ConfigError(
            "--spans cannot run on open-source Kubeflow: it never runs ExampleGen's driver, which resolves "
            "span-{SPAN} (TFX puts it in container.lifecycle.preCacheCheck, which only Vertex executes). "
            "Point --images at the folder of the photos to train on, or compile for --target vertex")


def _kfp_package(pipeline_spec, settings, pipeline_root):
    """TFX's PipelineSpec dict (changed in place) -> the YAML documents of an open-source KFP package:
    the spec, and a Kubernetes PlatformSpec when the Trainer has a node selector."""
    spec = pipeline_spec
    executors = spec["deploymentSpec"]["executors"]
    unsupported = {label: sorted(executor) for label, executor in executors.items()
                   if not set(executor) <= set(KFP_EXECUTOR_KINDS)}
    if unsupported:
        raise ConfigError(f"open-source Kubeflow runs only {list(KFP_EXECUTOR_KINDS)} executors; "
                          f"the pipeline has {unsupported}")
    components = spec["components"]
    for task in spec["root"]["dag"]["tasks"].values():
        executor = executors[components[task["componentRef"]["name"]]["executorLabel"]]
        if "lifecycle" in executor.get("container", {}):  # a driver the backend never runs (see the docstring)
            task["cachingOptions"] = {"enableCache": False}
    spec["defaultPipelineRoot"] = pipeline_root  # for the reader: the backend takes the root from the submission
    json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())  # strictly, as kfp's loader will
    documents = [spec]
    if settings.trainer_node_selector:
        label = components[spec["root"]["dag"]["tasks"][pipeline_lib.TRAINER_ID]["componentRef"]["name"]]["executorLabel"]
        documents.append({"platforms": {"kubernetes": {"deploymentSpec": {"executors": {
            label: {"nodeSelector": {"labels": dict(settings.trainer_node_selector)}}}}}}})
    return documents


def compile_pipeline(config, output_path, settings=KubeflowSettings()):
    """Writes the pipeline for ``settings.target`` to ``output_path`` (kfp: .yaml); returns the path."""
    _check_config(config, settings)
    if settings.target == "kfp" and not output_path.endswith((".yaml", ".yml")):
        raise ConfigError(f"--output {output_path}: kfp's client loads .yaml/.yml packages only")
    pipeline = pipeline_lib.create_pipeline(
        config, last_blessed_uri=last_blessed_uri(config) if settings.target == "kfp" else None)
    for component in pipeline.components:
        if component.id == pipeline_lib.TRAINER_ID:
            component.with_platform_config(_trainer_resources(settings))
    output_dir, output_filename = os.path.split(os.path.abspath(output_path))
    runner_config = tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
        default_image=settings.images, use_pipeline_spec_2_1=True)
    if settings.target == "vertex":
        tfx.orchestration.experimental.KubeflowV2DagRunner(
            config=runner_config, output_dir=output_dir, output_filename=output_filename).run(pipeline)
        return output_path
    job = tfx.orchestration.experimental.KubeflowV2DagRunner(config=runner_config).run(pipeline, write_out=False)
    documents = _kfp_package(job["pipelineSpec"], settings, config.pipeline_root)
    os.makedirs(output_dir, exist_ok=True)
    with open(output_path, "w") as package:
        package.write(f"# colornet for open-source Kubeflow Pipelines v2 ({pipeline.pipeline_info.pipeline_name}).\n"
                      f"# Submit with pipeline_root={config.pipeline_root!r} (the backend ignores defaultPipelineRoot).\n")
        yaml.safe_dump_all(documents, package, sort_keys=True)
    return output_path
