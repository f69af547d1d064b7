"""Generated TensorFlow Serving configs parse, and (when installed) run the real server."""
import re
import shutil
import subprocess
import time

import pytest
import yaml
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from colornet.serving.client import ColorizeClient
from colornet.serving.serving_config import ServingSettings, local_server_command, write_serving_config

from serving_fixtures import RED, free_port, is_red, jpeg_bytes, write_tint_model


def _model_config(path):
    return text_format.Parse(path.read_text(), model_server_config_pb2.ModelServerConfig())


def test_written_configs_parse(tmp_path):
    models = tmp_path / "push"
    written = write_serving_config(models, tmp_path / "config", ServingSettings(model_name="colornet"))
    assert sorted(path.name for path in written) == sorted(
        ["models.config", "models.local.config", "batching_parameters.txt", "docker-compose.yml", "kubernetes.yml"])
    config_dir = tmp_path / "config"

    (container,) = _model_config(config_dir / "models.config").model_config_list.config
    assert (container.name, container.base_path, container.model_platform) == ("colornet", "/models/colornet",
                                                                               "tensorflow")
    assert container.model_version_policy.latest.num_versions == 1
    (local,) = _model_config(config_dir / "models.local.config").model_config_list.config
    assert local.base_path == str(models.resolve())

    # BatchingParameters' proto is not in the tensorflow-serving-api wheel: check its text form.
    batching = dict(re.findall(r"^(\w+) \{ value: (\d+) \}$", (config_dir / "batching_parameters.txt").read_text(),
                               re.MULTILINE))
    assert batching == {"max_batch_size": "8", "batch_timeout_micros": "20000", "max_enqueued_batches": "64",
                        "num_batch_threads": "2"}

    compose = yaml.safe_load((config_dir / "docker-compose.yml").read_text())
    service = compose["services"]["colornet"]
    assert service["image"].startswith("tensorflow/serving:")
    assert f"{models.resolve()}:/models/colornet:ro" in service["volumes"]
    assert {"--enable_batching", "--model_config_file=/config/models.config"} <= set(service["command"])
    assert service["ports"] == ["127.0.0.1:8500:8500", "127.0.0.1:8501:8501"]

    deployment, service = yaml.safe_load_all((config_dir / "kubernetes.yml").read_text())
    assert (deployment["kind"], service["kind"]) == ("Deployment", "Service")
    (container_spec,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container_spec["readinessProbe"]["httpGet"]["path"] == "/v1/models/colornet"


@pytest.mark.skipif(shutil.which("tensorflow_model_server") is None,
                    reason="tensorflow_model_server is not on PATH (not installable from PyPI or Debian here)")
def test_real_tensorflow_model_server_serves_the_push_dir(tmp_path):
    models = tmp_path / "push"
    write_tint_model(models, 1, RED)
    grpc_port, rest_port = free_port(), free_port()
    settings = ServingSettings(grpc_port=grpc_port, rest_port=rest_port, poll_seconds=1)
    write_serving_config(models, tmp_path / "config", settings)
    process = subprocess.Popen(local_server_command(tmp_path / "config", settings))
    try:
        with ColorizeClient(f"127.0.0.1:{grpc_port}", retry_seconds=60) as client:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if client.status()[0]["state"] == "AVAILABLE":
                        break
                except Exception:  # noqa: BLE001 - not up yet
                    time.sleep(0.5)
            assert is_red(client.colorize([jpeg_bytes()])[0])
    finally:
        process.terminate()
        process.wait(timeout=30)
