"""The gRPC server and client, for real: tiny SavedModels, a server on 127.0.0.1, gRPC calls."""
import concurrent.futures
import io
import shutil
import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorflow_serving.apis import (classification_pb2, model_management_pb2, model_service_pb2_grpc, predict_pb2,
                                     prediction_log_pb2, prediction_service_pb2_grpc)

from colornet.serving.client import ColorizeClient
from colornet.components.pusher.executor import publish_version
from colornet.schemas import serving_contract as contract
from colornet.schemas.serving_contract import WARMUP_FILE, loadable_versions
from colornet.serving.model_store import ModelStore, State
from colornet.serving.limits import ServingLimits
from colornet.serving.server import start_server
from colornet.serving.warmup import replay_warmup_requests

from serving_fixtures import BLUE, RED, is_red, jpeg_bytes, write_tint_model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One red and one blue exported version, to copy into model dirs as the Pusher would."""
    root = tmp_path_factory.mktemp("exported")
    return {"red": write_tint_model(root, 1, RED), "blue": write_tint_model(root, 2, BLUE)}


@pytest.fixture(scope="module")
def two_versions(exported, tmp_path_factory):
    base = tmp_path_factory.mktemp("models")
    publish_version(exported["red"], base, 1)
    publish_version(exported["blue"], base, 2)
    return base


@pytest.fixture(scope="module")
def server(two_versions):
    running = start_server(two_versions, port=0, num_versions=2, poll_seconds=0.2,
                           limits=ServingLimits(max_request_bytes=2_000_000, max_image_pixels=1_000_000))
    yield running
    running.stop(grace=1)


@pytest.fixture
def client(server):
    with ColorizeClient(f"127.0.0.1:{server.port}", timeout=20) as client:
        yield client


def test_colorize_round_trip_serves_the_newest_version(client):
    pngs = client.colorize([jpeg_bytes(48, 32), jpeg_bytes(20, 10)])
    assert len(pngs) == 2
    assert all(png.startswith(b"\x89PNG") for png in pngs)
    assert not is_red(pngs[0])  # version 2 is the blue one


def test_client_transcodes_formats_the_signature_cannot_decode(client):
    photo = Image.new("RGB", (40, 24), (30, 160, 90))
    encoded = {}
    for name, save in {"webp": dict(format="WEBP", lossless=True), "tiff": dict(format="TIFF"),
                       "cmyk-jpeg": None}.items():
        buffer = io.BytesIO()
        if save is None:
            photo.convert("CMYK").save(buffer, "JPEG")
        else:
            photo.save(buffer, **save)
        encoded[name] = buffer.getvalue()
    pngs = client.colorize(list(encoded.values()))
    assert [Image.open(io.BytesIO(png)).size for png in pngs] == [(40, 24)] * 3


def test_version_pinning(server):
    target = f"127.0.0.1:{server.port}"
    with ColorizeClient(target, version=1) as red, ColorizeClient(target, version=2) as blue:
        assert is_red(red.colorize([jpeg_bytes()])[0])
        assert not is_red(blue.colorize([jpeg_bytes()])[0])
    with ColorizeClient(target, version=7) as missing, pytest.raises(grpc.RpcError) as raised:
        missing.colorize([jpeg_bytes()])
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_unknown_model_is_not_found(server):
    with ColorizeClient(f"127.0.0.1:{server.port}", model_name="other") as client, \
            pytest.raises(grpc.RpcError) as raised:
        client.colorize([jpeg_bytes()])
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert raised.value.details() == "Servable not found for request: Latest(other)"  # TF Serving's words


def test_other_signature_and_output_filter(client):
    outputs = client.predict({"images": [jpeg_bytes(), jpeg_bytes()]}, signature_name="colorize_ab",
                             output_filter=["ab"])
    assert outputs["ab"].shape == (2, 8, 8, 2) and outputs["ab"].dtype == np.float32
    with pytest.raises(grpc.RpcError) as raised:
        client.predict({"images": [jpeg_bytes()]}, output_filter=["nope"])
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as raised:
        client.predict({"images": [jpeg_bytes()]}, signature_name="nope")
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_status_and_metadata(client):
    assert client.status() == [{"version": 2, "state": "AVAILABLE", "error": ""},
                               {"version": 1, "state": "AVAILABLE", "error": ""}]
    version, signatures = client.metadata()
    assert version == 2
    assert {"serving_default", "colorize_ab"} <= set(signatures)
    default = signatures["serving_default"]
    assert list(default.inputs) == ["images"]
    assert set(default.outputs) == {contract.COLORIZED_OUTPUT, contract.ERRORS_OUTPUT} == {"colorized_bytes", "errors"}


def test_undecodable_input_is_invalid_argument(client):
    with pytest.raises(grpc.RpcError) as raised:
        client.colorize([b"this is not an image"])
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "photos [0]: unsupported or empty image" in raised.value.details()
    assert "function_node" not in raised.value.details()


def test_request_and_image_limits(client):
    with pytest.raises(grpc.RpcError) as raised:
        client.colorize([b"x" * 3_000_000])
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    with pytest.raises(grpc.RpcError) as raised:
        client.colorize([jpeg_bytes(1200, 1000)])  # 1.2 Mpx, small as a JPEG
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "1200x1000" in raised.value.details()


def test_classify_is_refused_and_config_reloads_unimplemented(server):
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    with channel:
        with pytest.raises(grpc.RpcError) as raised:
            prediction_service_pb2_grpc.PredictionServiceStub(channel).Classify(
                classification_pb2.ClassificationRequest(), timeout=5)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # as TF Serving (test_tf_serving_conformance)
        with pytest.raises(grpc.RpcError) as raised:
            model_service_pb2_grpc.ModelServiceStub(channel).HandleReloadConfigRequest(
                model_management_pb2.ReloadConfigRequest(), timeout=5)
        assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_half_written_version_is_ignored(exported, tmp_path):
    publish_version(exported["red"], tmp_path, 1)
    (tmp_path / "5" / "variables").mkdir(parents=True)  # a push in progress: no saved_model.pb yet
    (tmp_path / "notes").mkdir()
    assert loadable_versions(tmp_path) == [1]
    store = ModelStore(tmp_path)
    store.poll()
    assert store.get().version == 1
    assert [status.version for status in store.statuses()] == [1]


def test_broken_version_is_reported_and_old_one_kept(exported, tmp_path):
    publish_version(exported["red"], tmp_path, 1)
    broken = tmp_path / "2"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"not a saved model")
    store = ModelStore(tmp_path)
    store.poll()
    assert store.get().version == 1
    statuses = {status.version: status for status in store.statuses()}
    assert statuses[2].state == State.END and statuses[2].error
    store.poll()  # not retried while unchanged, still serving 1
    assert store.get().version == 1 and store.statuses(2)[0].state == State.END
    publish_version(exported["blue"], tmp_path / "fixed", 2)  # the push finished writing saved_model.pb
    shutil.copytree(tmp_path / "fixed" / "2", broken, dirs_exist_ok=True)
    store.poll()
    assert store.get().version == 2
    assert {status.version: State.Name(status.state) for status in store.statuses()} == {2: "AVAILABLE", 1: "END"}


def test_new_version_is_picked_up_without_failed_requests(exported, tmp_path):
    publish_version(exported["red"], tmp_path, 1)
    with start_server(tmp_path, port=0, poll_seconds=0.1) as running, \
            ColorizeClient(f"127.0.0.1:{running.port}", timeout=20) as client:
        stop = threading.Event()
        colors = []

        def send_until_stopped():
            while not stop.is_set():
                colors.append("red" if is_red(client.colorize([jpeg_bytes()])[0]) else "blue")

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            senders = [pool.submit(send_until_stopped) for _ in range(4)]
            while not colors and not any(sender.done() for sender in senders):
                time.sleep(0.05)
            publish_version(exported["blue"], tmp_path, 2)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and client.status()[0] != {
                    "version": 2, "state": "AVAILABLE", "error": ""}:
                time.sleep(0.1)
            time.sleep(0.5)
            stop.set()
            for sender in senders:
                sender.result()  # re-raises any failed request
        assert colors[0] == "red" and "blue" in colors
        assert {entry["version"]: entry["state"] for entry in client.status()} == {2: "AVAILABLE", 1: "END"}


def _write_warmup(version_dir, images):
    path = version_dir / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for image in images:
            request = predict_pb2.PredictRequest()
            request.inputs["images"].CopyFrom(tf.make_tensor_proto([image]))
            writer.write(prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)).SerializeToString())


def test_warmup_requests_run_before_a_version_serves(exported, tmp_path):
    good = publish_version(exported["red"], tmp_path, 1)
    _write_warmup(good, [jpeg_bytes(), jpeg_bytes(8, 8)])
    bad = publish_version(exported["blue"], tmp_path, 2)
    _write_warmup(bad, [b"not an image"])
    ran = []
    store = ModelStore(tmp_path, warmup=lambda loaded: ran.append((loaded.version, replay_warmup_requests(loaded))))
    store.poll()
    assert store.get().version == 1  # version 2 failed its own warm-up
    assert ran == [(1, 2)]
    (failed,) = store.statuses(2)
    assert failed.state == State.END and "unsupported or empty image" in failed.error
