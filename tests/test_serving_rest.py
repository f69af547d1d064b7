"""TF Serving's REST API beside the gRPC server: routes, JSON shapes and errors as TF Serving has them.

The expected shapes come from TF Serving itself: the examples of its REST API guide
(tensorflow_serving/g3doc/api_rest.md), the metadata JSON its handler test compares against
(servables/tensorflow/testdata/saved_model_half_plus_two_2_versions_metadata.json) and the
rules of util/json_tensor.cc; each test names the one it follows.
"""
import base64
import json
import urllib.error
import urllib.request

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2

from colornet.schemas import serving_contract as contract
from colornet.serving import json_tensor
from colornet.serving.errors import ServingError
from colornet.serving.server import start_server

from serving_fixtures import is_red, jpeg_bytes


@pytest.fixture(scope="module")
def rest_url(tint_server):  # versions 1 (red, "stable") and 2 (blue, "canary")
    return f"http://127.0.0.1:{tint_server.rest_port}/v1/models/colornet"


def _call(url, body=None, method=None):
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method), timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def _b64(data):
    return {"b64": base64.b64encode(data).decode()}


def test_status_is_tf_servings_get_model_status_json(rest_url):
    # GetModelStatusResponse printed with every field (api_rest.md "Model status API").
    assert _call(rest_url) == (200, {"model_version_status": [
        {"version": "2", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}},
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]})
    assert _call(f"{rest_url}/versions/1")[1]["model_version_status"][0]["version"] == "1"
    assert _call(f"{rest_url}/labels/canary")[1]["model_version_status"][0]["version"] == "2"


def test_metadata_has_tf_servings_field_names_and_shape(rest_url):
    # The shape of TF Serving's saved_model_half_plus_two_2_versions_metadata.json: proto field
    # names (tensor_shape, method_name, unknown_rank), every field printed, sizes as strings.
    status, metadata = _call(f"{rest_url}/versions/1/metadata")
    assert status == 200
    assert metadata["model_spec"] == {"name": "colornet", "signature_name": "", "version": "1"}
    assert set(metadata) == {"model_spec", "metadata"} and set(metadata["metadata"]) == {"signature_def"}
    signatures = metadata["metadata"]["signature_def"]["signature_def"]
    assert {contract.SERVING_SIGNATURE, contract.COLORIZE_AB_SIGNATURE} <= set(signatures)  # and TF2's init op
    default = signatures[contract.SERVING_SIGNATURE]
    assert set(default) == {"inputs", "outputs", "method_name", "defaults"}
    assert default["method_name"] == "tensorflow/serving/predict" and default["defaults"] == {}
    images = default["inputs"][contract.IMAGES_INPUT]
    assert set(images) == {"dtype", "tensor_shape", "name"} and images["dtype"] == "DT_STRING"
    assert images["tensor_shape"] == {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False}
    assert set(default["outputs"]) == {"colorized_bytes", "errors"}
    assert _call(f"{rest_url}/labels/canary/metadata")[1]["model_spec"]["version"] == "2"


def test_predict_row_format_answers_predictions_with_bytes_outputs_in_base64(rest_url):
    # Row format, several outputs: one object per instance; `_bytes` outputs as {"b64": ...}, text as text.
    status, body = _call(f"{rest_url}:predict", {"instances": [_b64(jpeg_bytes()), _b64(jpeg_bytes(10, 10))]})
    assert status == 200 and len(body["predictions"]) == 2
    first = body["predictions"][0]
    assert set(first) == {"colorized_bytes", "errors"} and first["errors"] == ""
    assert not is_red(base64.b64decode(first["colorized_bytes"]["b64"]))  # version 2, the newest, is blue


def test_predict_columnar_format_answers_outputs(rest_url):
    status, body = _call(f"{rest_url}/versions/1:predict",
                         {"signature_name": "colorize_ab", "inputs": {"images": [_b64(jpeg_bytes())]}})
    assert status == 200 and set(body["outputs"]) == {"ab", "errors"}
    assert np.asarray(body["outputs"]["ab"]).shape == (1, 8, 8, 2) and body["outputs"]["errors"] == [""]
    status, body = _call(f"{rest_url}/labels/stable:predict", {"inputs": [_b64(jpeg_bytes())]})  # one input: bare
    assert status == 200 and is_red(base64.b64decode(body["outputs"]["colorized_bytes"][0]["b64"]))


def test_one_bad_photo_fails_only_itself(rest_url):
    status, body = _call(f"{rest_url}:predict", {"instances": [_b64(b"garbage"), _b64(jpeg_bytes())]})
    assert status == 200
    assert body["predictions"][0]["colorized_bytes"] == {"b64": ""}
    assert body["predictions"][0]["errors"].startswith("unsupported or empty image")
    assert body["predictions"][1]["errors"] == ""
    status, body = _call(f"{rest_url}:predict", {"instances": [_b64(b"garbage")]})
    assert status == 400 and "photos [0]: unsupported or empty image" in body["error"]


def test_version_labels_and_their_errors(rest_url):
    assert _call(f"{rest_url}/labels/stable:predict", {"instances": [_b64(jpeg_bytes())]})[0] == 200
    # TF Serving: INVALID_ARGUMENT "Unrecognized servable version label: <label>" -> 400.
    assert _call(f"{rest_url}/labels/nope:predict", {"instances": [_b64(jpeg_bytes())]}) == (
        400, {"error": "Unrecognized servable version label: nope"})
    assert _call(f"{rest_url}/labels/nope/metadata")[0] == 400


def test_errors_answer_tf_servings_status_and_json(rest_url):
    assert _call(f"{rest_url}/versions/9:predict", {"instances": [_b64(jpeg_bytes())]})[0] == 404
    assert _call(rest_url.replace("colornet", "other"))[0] == 404
    assert _call(f"{rest_url}:predict", [1, 2])[0] == 400
    assert _call(f"{rest_url}:predict", {"instances": [_b64(jpeg_bytes())], "signature_name": "nope"})[0] == 400
    assert _call(f"{rest_url}:classify", {"examples": []})[0] == 400  # no classify signature, as TF Serving
    assert _call(f"{rest_url}/metadata", b"{}")[1]["error"].startswith("Malformed request: POST")
    assert _call(rest_url.replace("/colornet", ""))[1] == {"error": "Missing model name in request."}
    assert _call(rest_url.replace("/v1/models/colornet", "/nothing"))[0] == 404


def _info(dtype, *dims):
    info = meta_graph_pb2.TensorInfo(dtype=dtype)
    for size in dims:
        info.tensor_shape.dim.add(size=size)
    return info


# The multi-input example of api_rest.md ("Specifying input tensors in row format" and its columnar twin).
_EXAMPLE_INFOS = {"tag": _info(types_pb2.DT_STRING, -1), "signal": _info(types_pb2.DT_INT32, -1, 5),
                  "sensor": _info(types_pb2.DT_INT32, -1, 2, 2)}
_EXAMPLE_ROWS = {"instances": [{"tag": "foo", "signal": [1, 2, 3, 4, 5], "sensor": [[1, 2], [3, 4]]},
                               {"tag": "bar", "signal": [3, 4, 1, 2, 5], "sensor": [[4, 5], [6, 8]]}]}
_EXAMPLE_COLUMNS = {"inputs": {"tag": ["foo", "bar"], "signal": [[1, 2, 3, 4, 5], [3, 4, 1, 2, 5]],
                               "sensor": [[[1, 2], [3, 4]], [[4, 5], [6, 8]]]}}


def test_json_tensor_reads_the_documented_row_and_columnar_examples_alike():
    row_format, rows = json_tensor.parse_predict_request(_EXAMPLE_ROWS, _EXAMPLE_INFOS)
    columnar_format, columns = json_tensor.parse_predict_request(_EXAMPLE_COLUMNS, _EXAMPLE_INFOS)
    assert (row_format, columnar_format) == (json_tensor.ROW, json_tensor.COLUMNAR)
    for name in _EXAMPLE_INFOS:
        np.testing.assert_array_equal(rows[name], columns[name])
    assert rows["tag"].tolist() == [b"foo", b"bar"] and rows["sensor"].shape == (2, 2, 2)
    single = {"images": _info(types_pb2.DT_STRING, -1)}
    assert json_tensor.parse_predict_request({"instances": ["foo", _b64(b"bar")]}, single)[1]["images"].tolist() \
        == [b"foo", b"bar"]  # plain strings and {"b64": ...} both, for any DT_STRING input


@pytest.mark.parametrize("document, message", [
    ({"instances": 5}, "Expecting 'instances' to be an list/array"),
    ({"instances": []}, "No values in 'instances' array"),
    ({"instances": [1], "inputs": [1]}, "expecting only one of 'inputs' or 'instances'"),
    ({}, "Missing 'inputs' or 'instances' key"),
    ({"instances": [{"b64": "abc"}]}, "Unable to base64 decode"),
    ({"instances": [{"b64": 12}]}, "keys must be equal to: images"),
    ({"inputs": [{"b64": 12}]}, "not formatted correctly for base64 data"),
    ({"instances": [[["x"]]]}, "deeper than the input's rank"),
    ({"instances": [3]}, "is not of expected type: DT_STRING"),
])
def test_json_tensor_refuses_malformed_tensors_as_invalid_argument(document, message):
    with pytest.raises(ServingError) as raised:
        json_tensor.parse_predict_request(document, {"images": _info(types_pb2.DT_STRING, -1)})
    assert raised.value.code.name == "INVALID_ARGUMENT" and message in raised.value.message


def test_json_tensor_writes_floats_and_outputs_as_tf_serving():
    # Floats: %g when it round-trips, else 9 digits, ".0" on whole numbers, NaN/Infinity tokens.
    values = np.array([0.2, 1.0, 1435774380, np.nan, -np.inf], np.float32)
    assert json_tensor.predict_response_json({"y": values}, json_tensor.COLUMNAR) == \
        '{"outputs": [0.2, 1.0, 1.43577434e+09, NaN, -Infinity]}'
    # Row format with one output: the bare values (api_rest.md "Response format").
    assert json.loads(json_tensor.predict_response_json({"y": np.array([[1], [2]])}, json_tensor.ROW)) == \
        {"predictions": [[1], [2]]}


def test_a_string_output_not_named_bytes_must_be_text(tmp_path):
    """TF Serving writes a non-``_bytes`` string output raw into the JSON: PNG bytes there are invalid
    JSON, which is why the contract names the output ``colorized_bytes``; here it is a clear 500."""
    class Legacy(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="images")])
        def serve(self, images):
            return {"colorized": tf.map_fn(lambda _: tf.io.encode_png(tf.zeros([2, 2, 3], tf.uint8)), images)}

    model = Legacy()
    tf.saved_model.save(model, str(tmp_path / "push" / "1"), signatures={"serving_default": model.serve})
    with start_server(tmp_path / "push", port=0, rest_port=0) as running:
        status, body = _call(f"http://127.0.0.1:{running.rest_port}/v1/models/colornet:predict",
                             {"instances": [_b64(jpeg_bytes())]})
    assert status == 500 and "'colorized'" in body["error"] and "_bytes" in body["error"]

