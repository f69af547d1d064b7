"""Generated TensorFlow Serving configs: they parse, Kubernetes' own models accept the manifest, the
probes wait for AVAILABLE, the batching limits are the embedded server's, and (when installed) the
real server runs them."""
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import kubernetes.client
import pytest
import tensorflow as tf
import yaml
from google.protobuf import text_format
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.config import model_server_config_pb2

from colornet.components.model.export import write_warmup_requests
from colornet.components.pusher.executor import publish_version
from colornet.schemas import serving_contract as contract
from colornet.serving.client import ColorizeClient
from colornet.serving.limits import ServingLimits
from colornet.serving.server import start_server
from colornet.serving.serving_config import ServingSettings, local_server_command, write_serving_config

from serving_fixtures import RED, free_port, is_red, jpeg_bytes, write_tint_model

# The fields of TF Serving's BatchingParameters (servables/tensorflow/session_bundle_config.proto),
# whose proto is not in the tensorflow-serving-api wheel.
BATCHING_FIELDS = {"max_batch_size", "batch_timeout_micros", "max_enqueued_batches", "num_batch_threads",
                   "thread_pool_name", "enable_large_batch_splitting", "max_execution_batch_size",
                   "allowed_batch_sizes", "pad_variable_length_inputs"}


def _model_config(path):
    return text_format.Parse(path.read_text(), model_server_config_pb2.ModelServerConfig())


def _kubernetes_model(value, type_name, path):
    """``value`` (a manifest fragment) as the kubernetes client's model ``type_name`` (Kubernetes 1.26 API).

    Raises AssertionError for a field the API does not have or a value of the wrong type, and
    ValueError (from the model's constructor) for a missing required field.
    """
    if type_name.startswith("list["):
        assert isinstance(value, list), f"{path}: expected a list"
        return [_kubernetes_model(item, type_name[5:-1], f"{path}[{index}]") for index, item in enumerate(value)]
    if type_name.startswith("dict("):
        assert isinstance(value, dict), f"{path}: expected a map"
        item_type = type_name[5:-1].split(", ", 1)[1]
        return {key: _kubernetes_model(item, item_type, f"{path}.{key}") for key, item in value.items()}
    primitives = {"str": str, "int": int, "bool": bool, "object": (int, str)}
    if type_name in primitives:
        assert isinstance(value, primitives[type_name]) and not (type_name == "int" and isinstance(value, bool)), \
            f"{path}: expected {type_name}, got {value!r}"
        return value
    model = getattr(kubernetes.client, type_name)
    assert isinstance(value, dict), f"{path}: expected an object ({type_name})"
    fields = {json_name: name for name, json_name in model.attribute_map.items()}
    unknown = sorted(set(value) - set(fields))
    assert not unknown, f"{path}: {type_name} has no field(s) {unknown}"
    return model(**{fields[key]: _kubernetes_model(item, model.openapi_types[fields[key]], f"{path}.{key}")
                    for key, item in value.items()})


def test_written_configs_parse(tmp_path):
    models = tmp_path / "push"
    written = write_serving_config(models, tmp_path / "config", ServingSettings(model_name="colornet"))
    assert sorted(path.name for path in written) == sorted(
        ["models.config", "models.local.config", "batching_parameters.txt", "docker-compose.yml", "kubernetes.yml"])
    config_dir = tmp_path / "config"

    (container,) = _model_config(config_dir / "models.config").model_config_list.config
    assert (container.name, container.base_path, container.model_platform) == ("colornet", "/models/colornet",
                                                                               "tensorflow")
    assert container.model_version_policy.latest.num_versions == 1 and not container.version_labels
    (local,) = _model_config(config_dir / "models.local.config").model_config_list.config
    assert local.base_path == str(models.resolve())

    compose = yaml.safe_load((config_dir / "docker-compose.yml").read_text())
    service = compose["services"]["colornet"]
    assert service["image"].startswith("tensorflow/serving:")
    assert f"{models.resolve()}:/models/colornet:ro" in service["volumes"]
    assert {"--enable_batching", "--model_config_file=/config/models.config",
            "--allow_version_labels_for_unavailable_models"} <= set(service["command"])
    assert service["ports"] == ["127.0.0.1:8500:8500", "127.0.0.1:8501:8501"]


def test_batching_limits_are_the_embedded_servers(tmp_path):
    """One request may hold as many photos on TF Serving as on `colornet serve`; graph batches are split."""
    write_serving_config(tmp_path / "push", tmp_path, ServingSettings())
    text = (tmp_path / "batching_parameters.txt").read_text()
    values = dict(re.findall(r"^(\w+) \{ value: (\w+) \}$", text, re.MULTILINE))
    assert set(values) <= BATCHING_FIELDS
    limits = ServingLimits()
    assert values == {"max_batch_size": str(limits.max_batch_size), "enable_large_batch_splitting": "true",
                      "max_execution_batch_size": str(limits.max_execution_batch_size),
                      "num_batch_threads": str(limits.max_concurrent_batches),
                      "batch_timeout_micros": "20000", "max_enqueued_batches": "64"}
    assert all(line.startswith("#") or re.fullmatch(r"\w+ \{ value: \w+ \}", line) for line in text.splitlines())


def test_version_labels_pin_the_served_versions(tmp_path):
    write_serving_config(tmp_path / "push", tmp_path, ServingSettings(version_labels={"stable": 3, "canary": 7}))
    (config,) = _model_config(tmp_path / "models.config").model_config_list.config
    assert dict(config.version_labels) == {"stable": 3, "canary": 7}
    assert list(config.model_version_policy.specific.versions) == [3, 7]


def test_kubernetes_manifest_is_valid_and_waits_for_available(tmp_path):
    write_serving_config(tmp_path / "push", tmp_path, ServingSettings())
    deployment, service = yaml.safe_load_all((tmp_path / "kubernetes.yml").read_text())
    _kubernetes_model(deployment, "V1Deployment", "Deployment")
    _kubernetes_model(service, "V1Service", "Service")
    assert (deployment["apiVersion"], deployment["kind"], service["apiVersion"], service["kind"]) == (
        "apps/v1", "Deployment", "v1", "Service")
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    (container,) = pod["spec"]["containers"]
    port_names = {port["name"] for port in container["ports"]}
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= port_names
    for probe in ("startupProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/v1/models/colornet/metadata", "port": "rest"}
    assert container["livenessProbe"]["tcpSocket"]["port"] in port_names
    assert container["startupProbe"]["periodSeconds"] * container["startupProbe"]["failureThreshold"] >= 300
    mounts = {mount["name"] for mount in container["volumeMounts"]}
    assert mounts == {volume["name"] for volume in pod["spec"]["volumes"]}


def test_schema_check_catches_what_kubernetes_would_refuse():
    with pytest.raises(AssertionError, match="has no field"):
        _kubernetes_model({"name": "x", "readynessProbe": {}}, "V1Container", "container")
    with pytest.raises(AssertionError, match="expected int"):
        _kubernetes_model({"periodSeconds": "5"}, "V1Probe", "probe")
    with pytest.raises(ValueError, match="name"):
        _kubernetes_model({"image": "x"}, "V1Container", "container")


def _get(url):
    """(HTTP status, body); (0, b"") while nothing listens."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, ConnectionError):
        return 0, b""


def test_the_probe_path_fails_while_loading_where_the_status_path_does_not(tmp_path):
    """The manifest's probe path on a server that behaves as TF Serving: 404 until AVAILABLE, while
    /v1/models/<name> already answers 200 with state LOADING (the bug of the old probe)."""
    exported = write_tint_model(tmp_path / "exported", 1, RED)
    request = predict_pb2.PredictRequest()
    request.inputs[contract.IMAGES_INPUT].CopyFrom(tf.make_tensor_proto([jpeg_bytes(640, 480)] * 4))
    write_warmup_requests(str(exported), [request] * 40)  # a load that lasts a few seconds
    with start_server(tmp_path / "push", port=0, rest_port=0, poll_seconds=0.1) as running:
        base = f"http://127.0.0.1:{running.rest_port}/v1/models/colornet"
        assert _get(f"{base}/metadata")[0] == 404  # nothing pushed yet
        publish_version(exported, tmp_path / "push", 1)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and b"LOADING" not in _get(base)[1]:
            time.sleep(0.02)
        status, body = _get(base)
        assert status == 200 and b'"LOADING"' in body
        assert _get(f"{base}/metadata")[0] == 404
        while time.monotonic() < deadline and _get(f"{base}/metadata")[0] != 200:
            time.sleep(0.1)
        assert _get(f"{base}/metadata")[0] == 200 and b'"AVAILABLE"' in _get(base)[1]


@pytest.mark.skipif(shutil.which("tensorflow_model_server") is None,
                    reason="tensorflow_model_server is not on PATH (not installable from PyPI or Debian here)")
def test_real_tensorflow_model_server_serves_the_push_dir(tmp_path):
    models = tmp_path / "push"
    write_tint_model(models, 1, RED)
    grpc_port, rest_port = free_port(), free_port()
    settings = ServingSettings(grpc_port=grpc_port, rest_port=rest_port, poll_seconds=1,
                               version_labels={"stable": 1})
    write_serving_config(models, tmp_path / "config", settings)
    process = subprocess.Popen(local_server_command(tmp_path / "config", settings))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _get(f"http://127.0.0.1:{rest_port}/v1/models/colornet/metadata")[0] \
                != 200:
            time.sleep(0.5)
        with ColorizeClient(f"127.0.0.1:{grpc_port}", retry_seconds=60) as client:
            assert is_red(client.colorize([jpeg_bytes()])[0])
        status, _ = _get(f"http://127.0.0.1:{rest_port}/v1/models/colornet/labels/stable/metadata")
        assert status == 200
    finally:
        process.terminate()
        process.wait(timeout=30)
