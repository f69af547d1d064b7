"""TF Serving's REST API beside the gRPC server: status, metadata and predict in JSON."""
import base64
import json
import urllib.error
import urllib.request

import pytest

from colornet.serving.server import start_server

from serving_fixtures import RED, is_red, jpeg_bytes, write_tint_model


@pytest.fixture(scope="module")
def rest_url(tmp_path_factory):
    models = tmp_path_factory.mktemp("push")
    write_tint_model(models, 4, RED)
    with start_server(models, port=0, rest_port=0, poll_seconds=0.5) as running:
        yield f"http://127.0.0.1:{running.rest_port}/v1/models/colornet"


def _call(url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def _b64(data):
    return {"b64": base64.b64encode(data).decode()}


def test_status_and_metadata(rest_url):
    assert _call(rest_url) == (200, {"model_version_status": [
        {"version": "4", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]})
    status, metadata = _call(f"{rest_url}/versions/4/metadata")
    assert status == 200 and metadata["model_spec"]["version"] == "4"
    assert "colorize_ab" in metadata["metadata"]["signature_def"]["signature_def"]


def test_predict_rows_and_columns(rest_url):
    status, body = _call(f"{rest_url}:predict", {"instances": [_b64(jpeg_bytes()), _b64(jpeg_bytes(10, 10))]})
    assert status == 200 and len(body["predictions"]) == 2
    assert is_red(base64.b64decode(body["predictions"][0]["b64"]))

    status, body = _call(f"{rest_url}/versions/4:predict",
                         {"signature_name": "colorize_ab", "inputs": {"images": [_b64(jpeg_bytes())]}})
    assert status == 200 and len(body["outputs"][0]) == 8


def test_errors(rest_url):
    status, body = _call(f"{rest_url}:predict", {"instances": [_b64(b"garbage")]})
    assert status == 400 and "Unknown image file format" in body["error"]
    assert _call(f"{rest_url}/versions/9:predict", {"instances": [_b64(jpeg_bytes())]})[0] == 404
    assert _call(rest_url.replace("colornet", "other"))[0] == 404
    assert _call(f"{rest_url}:predict", [1, 2])[0] == 400
