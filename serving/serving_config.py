"""Configs that run the real ``tensorflow_model_server`` on the models the Pusher writes.

``write_serving_config`` fills the files in ``templates/``:

* ``models.config``: the model config list for containers (base path ``/models/<name>``);
* ``models.local.config``: the same with the host's model dir, for a server run directly;
* ``batching_parameters.txt``: server-side batching (``--enable_batching``);
* ``docker-compose.yml``: the ``tensorflow/serving`` image on ports 8500 (gRPC) / 8501 (REST)
  with the push dir mounted read-only;
* ``kubernetes.yml``: a Deployment (readiness on ``/v1/models/<name>``) and its Service.
"""
import dataclasses
import importlib.resources
import pathlib
import string

from ..schemas import serving_contract as contract

SERVING_IMAGE_VERSION = "2.16.1"  # the tensorflow-serving-api version this project pins
CONTAINER_MODELS_ROOT = "/models"


@dataclasses.dataclass(frozen=True)
class ServingSettings:
    model_name: str = contract.MODEL_NAME
    num_versions: int = 1
    poll_seconds: int = 2
    grpc_port: int = contract.GRPC_PORT
    rest_port: int = contract.REST_PORT
    # Batching: colorizing is heavy per image, so small batches and a short wait.
    max_batch_size: int = 8
    batch_timeout_micros: int = 20_000
    max_enqueued_batches: int = 64
    num_batch_threads: int = 2


def _template(name):
    return string.Template((importlib.resources.files("colornet.serving") / "templates" / name).read_text())


def local_server_command(output_dir, settings=ServingSettings()):
    """The command line that runs ``tensorflow_model_server`` on the written local config."""
    output_dir = pathlib.Path(output_dir).resolve()
    return ["tensorflow_model_server", f"--port={settings.grpc_port}", f"--rest_api_port={settings.rest_port}",
            f"--model_config_file={output_dir / 'models.local.config'}", "--enable_batching",
            f"--batching_parameters_file={output_dir / 'batching_parameters.txt'}",
            f"--file_system_poll_wait_seconds={settings.poll_seconds}"]


def write_serving_config(model_dir, output_dir, settings=ServingSettings()):
    """Writes the configs for serving ``model_dir`` into ``output_dir``; returns the written paths."""
    model_dir = pathlib.Path(model_dir).resolve()
    output_dir = pathlib.Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    values = {**dataclasses.asdict(settings), "model_dir": model_dir, "config_dir": output_dir.resolve(),
              "serving_version": SERVING_IMAGE_VERSION}
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
