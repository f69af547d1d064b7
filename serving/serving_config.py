"""Configs that run the real ``tensorflow_model_server`` on the models the Pusher writes.

``write_serving_config`` fills the files in ``templates/``:

* ``models.config``: the model config list for containers (base path ``/models/<name>``): the
  newest ``num_versions`` versions, or with ``version_labels`` exactly the labelled versions (a
  ``specific`` policy: TF Serving can only label versions it serves) and the labels;
* ``models.local.config``: the same with the host's model dir, for a server run directly;
* ``batching_parameters.txt``: server-side batching (``--enable_batching``) with the embedded
  server's limits (``limits.py``): a request may hold ``max_batch_size`` photos and is split into
  graph runs of ``max_execution_batch_size`` (``enable_large_batch_splitting``), so both servers
  accept the same requests and refuse larger ones with the same message; the signatures report a
  bad photo per photo, so a merged batch never fails another client's photos;
* ``docker-compose.yml``: the ``tensorflow/serving`` image on ports 8500 (gRPC) / 8501 (REST)
  with the push dir mounted read-only;
* ``kubernetes.yml``: a Deployment and its Service. Startup and readiness probe
  ``/v1/models/<name>/metadata``, which TF Serving answers 404 until a version is AVAILABLE
  (its status path ``/v1/models/<name>`` answers 200 while the model is still LOADING); liveness
  on the gRPC port only once the startup probe passed, so a slow first load is not killed.

Both servers also get ``--allow_version_labels_for_unavailable_models`` (TF Serving assigns
labels before it loads the versions at start, and refuses labels without it) and re-read
``models.config`` every ``config_poll_seconds``, so labels can be moved without a restart.
"""
import dataclasses
import importlib.resources
import pathlib
import string

from ..schemas import serving_contract as contract
from .limits import ServingLimits

SERVING_IMAGE_VERSION = "2.16.1"  # the tensorflow-serving-api version this project pins
CONTAINER_MODELS_ROOT = "/models"


_LIMITS = ServingLimits()


@dataclasses.dataclass(frozen=True)
class ServingSettings:
    model_name: str = contract.MODEL_NAME
    num_versions: int = 1
    version_labels: dict = dataclasses.field(default_factory=dict)  # label -> version
    poll_seconds: int = 2
    config_poll_seconds: int = 60
    grpc_port: int = contract.GRPC_PORT
    rest_port: int = contract.REST_PORT
    # Batching, as the embedded server's limits: colorizing is heavy per image, so small graph
    # batches and a short wait; a request may hold more photos, split across graph batches.
    max_batch_size: int = _LIMITS.max_batch_size
    max_execution_batch_size: int = _LIMITS.max_execution_batch_size
    num_batch_threads: int = _LIMITS.max_concurrent_batches
    batch_timeout_micros: int = 20_000
    max_enqueued_batches: int = 64

    def version_policy(self):
        """The model config's version policy and labels (text-format protobuf)."""
        if not self.version_labels:
            return f"model_version_policy {{ latest {{ num_versions: {self.num_versions} }} }}"
        versions = " ".join(f"versions: {version}" for version in sorted(set(self.version_labels.values())))
        labels = "\n    ".join(f'version_labels {{ key: "{label}" value: {version} }}'
                                for label, version in sorted(self.version_labels.items()))
        return f"model_version_policy {{ specific {{ {versions} }} }}\n    {labels}"


def _template(name):
    return string.Template((importlib.resources.files("colornet.serving") / "templates" / name).read_text())


def local_server_command(output_dir, settings=ServingSettings()):
    """The command line that runs ``tensorflow_model_server`` on the written local config."""
    output_dir = pathlib.Path(output_dir).resolve()
    return ["tensorflow_model_server", f"--port={settings.grpc_port}", f"--rest_api_port={settings.rest_port}",
            f"--model_config_file={output_dir / 'models.local.config'}", "--enable_batching",
            f"--batching_parameters_file={output_dir / 'batching_parameters.txt'}",
            f"--file_system_poll_wait_seconds={settings.poll_seconds}",
            f"--model_config_file_poll_wait_seconds={settings.config_poll_seconds}",
            "--allow_version_labels_for_unavailable_models"]


def write_serving_config(model_dir, output_dir, settings=ServingSettings()):
    """Writes the configs for serving ``model_dir`` into ``output_dir``; returns the written paths."""
    model_dir = pathlib.Path(model_dir).resolve()
    output_dir = pathlib.Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    values = {**dataclasses.asdict(settings), "model_dir": model_dir, "config_dir": output_dir.resolve(),
              "serving_version": SERVING_IMAGE_VERSION, "version_policy": settings.version_policy()}
    files = {
        "models.config": ("models.config", {"base_path": f"{CONTAINER_MODELS_ROOT}/{settings.model_name}"}),
        "models.local.config": ("models.config", {"base_path": model_dir}),
        "batching_parameters.txt": ("batching_parameters.txt", {}),
        "docker-compose.yml": ("docker-compose.yml", {}),
        "kubernetes.yml": ("kubernetes.yml", {}),
    }
    written = []
    for target, (template, extra) in files.items():
        path = output_dir / target
        path.write_text(_template(template).substitute(values, **extra))
        written.append(path)
    return written
