"""The embedded server against TF Serving's API as TF Serving itself defines it, over gRPC and REST.

Each expectation comes from TF Serving's sources (tensorflow/serving), named in the test:
``g3doc/api_rest.md`` (the REST guide), ``example/resnet_client.py`` and ``resnet_client_grpc.py``
(the request shapes its example clients send), ``model_servers/get_model_status_impl.cc``,
``servables/tensorflow/predict_impl.cc``, ``predict_util.cc``, ``classifier.cc``, ``regressor.cc``,
``multi_inference.cc``, ``model_servers/server_core.cc`` and ``core/basic_manager.cc`` (codes and
wording). Where colornet answers otherwise on purpose, the test asserts the behaviour the README's
"Differences from TF Serving" table documents. Issue 22 (items 1-6) and issue 19 (items 7-9).
"""
import base64
import io
import json
import re
import shutil
import socket
import subprocess

import grpc
import numpy as np
import pytest
import requests
import tensorflow as tf
from PIL import Image
from tensorflow_serving.apis import (classification_pb2, get_model_metadata_pb2, get_model_status_pb2, inference_pb2,
                                     model_management_pb2, model_service_pb2_grpc, predict_pb2,
                                     prediction_service_pb2_grpc, regression_pb2)

from colornet.schemas import serving_contract as contract
from colornet.serving import tensors, wire
from colornet.serving.server import start_server
from colornet.serving.service import output_tensor

from hostile_fixtures import http, png_header_only, post
from serving_fixtures import jpeg_bytes

TIMEOUT = 30
@pytest.fixture(scope="module")
def channel(tint_server):
    with grpc.insecure_channel(tint_server.address) as channel:
        yield channel


@pytest.fixture(scope="module")
def rest(tint_server):
    return f"http://127.0.0.1:{tint_server.rest_port}/v1/models"


def _prediction(channel):
    return prediction_service_pb2_grpc.PredictionServiceStub(channel)


def _models(channel):
    return model_service_pb2_grpc.ModelServiceStub(channel)


def _refusal(call, request):
    """(code, details) of a gRPC call that must fail."""
    with pytest.raises(grpc.RpcError) as raised:
        call(request, timeout=TIMEOUT)
    return raised.value.code(), raised.value.details()


def _photo_request(name=contract.MODEL_NAME, **spec):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    for field, value in spec.items():
        if field == "version":
            request.model_spec.version.value = value
        else:
            setattr(request.model_spec, field, value)
    request.inputs[contract.IMAGES_INPUT].CopyFrom(tf.make_tensor_proto([jpeg_bytes()]))
    return request


def _b64(data):
    return base64.b64encode(data).decode()


def _png_size(png):
    with Image.open(io.BytesIO(png)) as image:
        return image.format, image.size


# -- TF Serving's example clients ---------------------------------------------------------------


def test_resnet_client_rest_request_shapes_get_predictions(rest):
    # example/resnet_client.py (MODEL_ACCEPT_JPG): '{"instances" : [{"b64": "%s"}]}' % jpeg, posted with
    # requests, raise_for_status(), then response.json()['predictions'][0]. Also the columnar
    # form of api_rest.md: {"inputs": ...}, bare for a one-input signature or keyed by input name.
    jpeg = jpeg_bytes(40, 24)
    response = requests.post(f"{rest}/colornet:predict", data='{"instances" : [{"b64": "%s"}]}' % _b64(jpeg),
                             timeout=TIMEOUT)
    response.raise_for_status()
    prediction = response.json()["predictions"][0]
    assert prediction["errors"] == ""
    assert _png_size(base64.b64decode(prediction["colorized_bytes"]["b64"])) == ("PNG", (40, 24))
    for inputs in ([{"b64": _b64(jpeg)}], {contract.IMAGES_INPUT: [{"b64": _b64(jpeg)}]}):
        response = requests.post(f"{rest}/colornet:predict", json={"inputs": inputs}, timeout=TIMEOUT)
        response.raise_for_status()
        outputs = response.json()["outputs"]
        assert outputs["errors"] == [""]
        assert _png_size(base64.b64decode(outputs["colorized_bytes"][0]["b64"])) == ("PNG", (40, 24))


def test_resnet_client_grpc_request_shape_gets_outputs(channel):
    # example/resnet_client_grpc.py: model_spec.name and signature_name 'serving_default', the input
    # as tf.make_tensor_proto(data), stub.Predict(request, 10.0), outputs read from the typed field.
    request = predict_pb2.PredictRequest()
    request.model_spec.name = contract.MODEL_NAME
    request.model_spec.signature_name = "serving_default"
    request.inputs[contract.IMAGES_INPUT].CopyFrom(tf.make_tensor_proto([jpeg_bytes(40, 24)]))
    result = _prediction(channel).Predict(request, 10.0)
    assert list(result.outputs[contract.ERRORS_OUTPUT].string_val) == [b""]
    assert _png_size(result.outputs[contract.COLORIZED_OUTPUT].string_val[0]) == ("PNG", (40, 24))
    assert result.model_spec.name == contract.MODEL_NAME and result.model_spec.version.value == 2
    # The client reads a float output as outputs[...].float_val: TF Serving's kAsProtoField, not tensor_content.
    request.model_spec.signature_name = contract.COLORIZE_AB_SIGNATURE
    ab = _prediction(channel).Predict(request, 10.0).outputs[contract.AB_OUTPUT]
    assert len(ab.float_val) == 8 * 8 * 2 and not ab.tensor_content
    assert tf.make_ndarray(ab).shape == (1, 8, 8, 2)


@pytest.mark.parametrize("array", [np.arange(6, dtype=np.float32).reshape(2, 3), np.linspace(0, 1, 5),
                                   np.array([1.5, -2], np.float16), np.array([1 + 2j, 3 - 1j], np.complex64),
                                   np.array([[1, -2]], np.int64), np.array([7, 255], np.uint8),
                                   np.array([True, False]), np.array([b"a", b""], dtype=object), np.float32(3)],
                         ids=lambda array: np.asarray(array).dtype.name)
def test_outputs_are_written_in_their_typed_fields(array):
    proto = output_tensor(np.asarray(array))
    assert not proto.tensor_content
    assert np.array_equal(tf.make_ndarray(proto), array) and tf.make_ndarray(proto).shape == np.shape(array)
    assert tensors.to_ndarray(wire.TensorProto.FromString(proto.SerializeToString())).tolist() == \
        np.asarray(array).tolist()  # colornet's own TensorFlow-free reader


# -- issue 22 item 1: a request without a model_spec ---------------------------------------------


def test_a_request_without_model_spec_is_invalid_argument(channel):
    # predict_impl.cc, get_model_status_impl.cc, get_model_metadata_impl.cc, classification_service.cc,
    # regression_service.cc: INVALID_ARGUMENT "Missing ModelSpec".
    missing = (grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec")
    request = predict_pb2.PredictRequest()
    request.inputs[contract.IMAGES_INPUT].CopyFrom(tf.make_tensor_proto([jpeg_bytes()]))
    assert _refusal(_prediction(channel).Predict, request) == missing
    assert _refusal(_models(channel).GetModelStatus, get_model_status_pb2.GetModelStatusRequest()) == missing
    assert _refusal(_prediction(channel).GetModelMetadata, get_model_metadata_pb2.GetModelMetadataRequest(
        metadata_field=["signature_def"])) == missing
    assert _refusal(_prediction(channel).Classify, classification_pb2.ClassificationRequest()) == missing
    assert _refusal(_prediction(channel).Regress, regression_pb2.RegressionRequest()) == missing
    # server_core.cc: a model_spec without a name.
    assert _refusal(_prediction(channel).Predict, _photo_request(name="")) == (
        grpc.StatusCode.INVALID_ARGUMENT, "ModelSpec has no name specified.")


# -- issue 22 item 2: output_filter naming an output twice ----------------------------------------


def test_a_duplicate_output_filter_name_is_invalid_argument(channel):
    # predict_util.cc PreProcessPrediction: "duplicate output tensor alias: <name>".
    request = _photo_request()
    request.output_filter.extend([contract.COLORIZED_OUTPUT, contract.ERRORS_OUTPUT, contract.ERRORS_OUTPUT])
    assert _refusal(_prediction(channel).Predict, request) == (
        grpc.StatusCode.INVALID_ARGUMENT, "duplicate output tensor alias: errors")
    request.output_filter[:] = [contract.COLORIZED_OUTPUT, contract.ERRORS_OUTPUT]
    assert set(_prediction(channel).Predict(request, timeout=TIMEOUT).outputs) == {"colorized_bytes", "errors"}


# -- issue 22 item 3: unknown model and version, in TF Serving's words -----------------------------


def test_unknown_model_or_version_is_not_found_in_tf_servings_words(channel, rest):
    # basic_manager.cc ("Servable not found for request: " + ServableRequest::DebugString()), the
    # REST guide's example ({"error": "Servable not found for request: Latest(half)"}, 404), and
    # get_model_status_impl.cc for the status.
    assert _refusal(_prediction(channel).Predict, _photo_request(name="half")) == (
        grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(half)")
    assert _refusal(_prediction(channel).Predict, _photo_request(version=9)) == (
        grpc.StatusCode.NOT_FOUND, "Servable not found for request: Specific(colornet, 9)")
    metadata = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    metadata.model_spec.name = "half"
    assert _refusal(_prediction(channel).GetModelMetadata, metadata) == (
        grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(half)")
    status = get_model_status_pb2.GetModelStatusRequest()
    status.model_spec.name = "half"
    assert _refusal(_models(channel).GetModelStatus, status) == (
        grpc.StatusCode.NOT_FOUND, "Could not find any versions of model half")
    status.model_spec.name = contract.MODEL_NAME
    status.model_spec.version.value = 9
    assert _refusal(_models(channel).GetModelStatus, status) == (
        grpc.StatusCode.NOT_FOUND, "Could not find version 9 of model colornet")

    response = requests.post(f"{rest}/half:predict", json={"instances": [1.0, 5.0]}, timeout=TIMEOUT)
    assert (response.status_code, response.json()) == (404, {"error": "Servable not found for request: Latest(half)"})
    response = requests.get(f"{rest}/colornet/versions/9", timeout=TIMEOUT)
    assert (response.status_code, response.json()) == (404, {"error": "Could not find version 9 of model colornet"})


# -- issue 22 item 4: a label on the status route (colornet's stricter answer, documented) ----------


def test_a_label_on_the_status_route_names_its_version(channel, rest):
    # TF Serving's get_model_status_impl.cc ignores version_label and lists every version; colornet
    # answers for the labelled version, and refuses an unknown label as Predict does (README table).
    status = get_model_status_pb2.GetModelStatusRequest()
    status.model_spec.name = contract.MODEL_NAME
    status.model_spec.version_label = "stable"
    assert [entry.version for entry in _models(channel).GetModelStatus(status, timeout=TIMEOUT)
            .model_version_status] == [1]
    status.model_spec.version_label = "nope"
    assert _refusal(_models(channel).GetModelStatus, status) == (
        grpc.StatusCode.INVALID_ARGUMENT, "Unrecognized servable version label: nope")
    response = requests.get(f"{rest}/colornet/labels/canary", timeout=TIMEOUT)
    assert [entry["version"] for entry in response.json()["model_version_status"]] == ["2"]
    response = requests.get(f"{rest}/colornet/labels/x", timeout=TIMEOUT)
    assert (response.status_code, response.json()) == (400, {"error": "Unrecognized servable version label: x"})


def test_unknown_signature_is_failed_precondition_and_400(channel, rest):
    # predict_util.cc: FAILED_PRECONDITION; http_rest_api_handler.cc GetInfoMap: 'Serving signature
    # name: "X" not found in signature def' (INVALID_ARGUMENT there: 400 either way).
    code, details = _refusal(_prediction(channel).Predict, _photo_request(signature_name="nope"))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    response = requests.post(f"{rest}/colornet:predict", json={"signature_name": "nope", "instances": ["x"]},
                             timeout=TIMEOUT)
    assert response.status_code == 400
    assert response.json()["error"].startswith('Serving signature name: "nope" not found in signature def')


# -- issue 22 item 5: Classify, Regress, MultiInference on a model without such signatures -----------


def test_classify_regress_and_multi_inference_are_invalid_argument(channel, rest):
    # classifier.cc / regressor.cc: the signature must exist ("No signature was found with the name: X")
    # and be of the method's kind, else INVALID_ARGUMENT; REST maps it to 400.
    classify = classification_pb2.ClassificationRequest()
    classify.model_spec.name = contract.MODEL_NAME
    code, details = _refusal(_prediction(channel).Classify, classify)
    assert (code, details) == (grpc.StatusCode.INVALID_ARGUMENT, "Expected classification signature method_name to "
                               "be tensorflow/serving/classify. Was: tensorflow/serving/predict")
    classify.model_spec.signature_name = "nope"
    assert _refusal(_prediction(channel).Classify, classify) == (
        grpc.StatusCode.INVALID_ARGUMENT, "No signature was found with the name: nope")
    regress = regression_pb2.RegressionRequest()
    regress.model_spec.name = contract.MODEL_NAME
    regress.model_spec.signature_name = contract.COLORIZE_AB_SIGNATURE
    assert _refusal(_prediction(channel).Regress, regress)[0] == grpc.StatusCode.INVALID_ARGUMENT
    regress.model_spec.name = "half"
    assert _refusal(_prediction(channel).Regress, regress)[0] == grpc.StatusCode.NOT_FOUND

    # multi_inference_helper.cc / multi_inference.cc: no task means a spec without a name; each task's
    # signature is checked for its method.
    multi = inference_pb2.MultiInferenceRequest()
    assert _refusal(_prediction(channel).MultiInference, multi) == (
        grpc.StatusCode.INVALID_ARGUMENT, "ModelSpec has no name specified.")
    task = multi.tasks.add(method_name="tensorflow/serving/regress")
    task.model_spec.name = contract.MODEL_NAME
    assert _refusal(_prediction(channel).MultiInference, multi) == (
        grpc.StatusCode.INVALID_ARGUMENT, "Expected regression signature method_name to be "
                                          "tensorflow/serving/regress. Was: tensorflow/serving/predict")

    for verb in ("classify", "regress"):
        response = requests.post(f"{rest}/colornet:{verb}", json={"examples": [{"x": 1.0}]}, timeout=TIMEOUT)
        assert response.status_code == 400
        assert f"method_name to be tensorflow/serving/{verb}" in response.json()["error"]
    response = requests.post(f"{rest}/colornet:classify", json={"signature_name": "nope", "examples": []},
                             timeout=TIMEOUT)
    assert (response.status_code, response.json()) == (400, {"error": "No signature was found with the name: nope"})


# -- differences kept on purpose (README, "Differences from TF Serving") ------------------------------


def test_a_request_whose_photos_all_fail_is_refused(channel, rest):
    # TF Serving would answer 200 with the reason in `errors` and an empty PNG; colornet refuses, so
    # that no client takes the empty PNG for a result. Same when output_filter leaves `errors` out.
    response = requests.post(f"{rest}/colornet:predict", json={"instances": [{"b64": _b64(b"not a photo")}]},
                             timeout=TIMEOUT)
    assert response.status_code == 400
    assert response.json()["error"].startswith("1 of 1 photos could not be colorized: photos [0]: ")
    request = _photo_request()
    request.inputs[contract.IMAGES_INPUT].CopyFrom(tf.make_tensor_proto([b"not a photo", jpeg_bytes()]))
    assert len(_prediction(channel).Predict(request, timeout=TIMEOUT).outputs[contract.COLORIZED_OUTPUT]
               .string_val) == 2  # one bad photo of two: answered, its reason in `errors`
    request.output_filter.append(contract.COLORIZED_OUTPUT)
    code, details = _refusal(_prediction(channel).Predict, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("1 of 2 photos could not be colorized")


def test_config_reloads_are_unimplemented(channel):
    # The server watches one model dir; TF Serving reloads its model config from this call.
    code, _ = _refusal(_models(channel).HandleReloadConfigRequest, model_management_pb2.ReloadConfigRequest())
    assert code == grpc.StatusCode.UNIMPLEMENTED


# -- issue 22 item 6: no answer names a server-side path or the host -------------------------------


def _status_request(**spec):
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.CopyFrom(_photo_request(**spec).model_spec)
    return request


def _refusals(server, channel):
    """The text of every refusal the server has, over both protocols (gRPC details, REST bodies)."""
    answers = []
    for spec in ({"name": "other"}, {"version": 9}, {"version_label": "nope"}):
        metadata = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        metadata.model_spec.CopyFrom(_photo_request(**spec).model_spec)
        answers.append(_refusal(_prediction(channel).GetModelMetadata, metadata)[1])
        answers.append(_refusal(_models(channel).GetModelStatus, _status_request(**spec))[1])
    for spec in ({"name": "other"}, {"version": 9}, {"version_label": "nope"}, {"signature_name": "nope"},
                 {"signature_name": "__saved_model_init_op"}):
        answers.append(_refusal(_prediction(channel).Predict, _photo_request(**spec))[1])
    for tensor in (tf.make_tensor_proto([b"not a photo"]),  # undecodable
                   tf.make_tensor_proto([[1.0]]),  # wrong dtype and shape
                   tf.make_tensor_proto([png_header_only(30000, 30000)]),  # over the photo pixel limit
                   tf.make_tensor_proto([png_header_only(5000, 4000)] * 2),  # over the request pixel budget
                   tf.make_tensor_proto([jpeg_bytes()] * 40),  # over the batch limit
                   tf.make_tensor_proto([b"x" * 40_000_000])):  # over the byte limit
        request = _photo_request()
        request.inputs[contract.IMAGES_INPUT].CopyFrom(tensor)
        answers.append(_refusal(_prediction(channel).Predict, request)[1])
    answers.append(_refusal(_prediction(channel).Classify, classification_pb2.ClassificationRequest(
        model_spec={"name": contract.MODEL_NAME}))[1])
    for path, body in [("/v1/models/other:predict", b'{"instances": ["x"]}'),
                       ("/v1/models/colornet/versions/9:predict", b'{"instances": ["x"]}'),
                       ("/v1/models/colornet/labels/nope:predict", b'{"instances": ["x"]}'),
                       ("/v1/models/colornet:predict", b'{"signature_name": "nope", "instances": ["x"]}'),
                       ("/v1/models/colornet:predict", b'{"instances": ["not a photo"]}'),
                       ("/v1/models/colornet:predict", b'{"instances": 5}'),
                       ("/v1/models/colornet:regress", b"{}"),
                       ("/v1/models/colornet/metadata", b"{}"),
                       ("/elsewhere", b"")]:
        answers.append(json.dumps(http(server.rest_port, post(path, body))[1]))
    for path in ("/v1/models/colornet/versions/9", "/v1/models/other/metadata", "/v1/models/colornet/labels/x"):
        answers.append(requests.get(f"http://127.0.0.1:{server.rest_port}{path}", timeout=TIMEOUT).text)
    return answers


def test_no_answer_names_the_model_dir_or_the_host(tint_server, channel, tint_models, tmp_path):
    broken = tmp_path / "push"
    (broken / "1").mkdir(parents=True)
    (broken / "1" / contract.SAVED_MODEL_FILE).write_bytes(b"not a saved model")
    with start_server(broken, port=0, rest_port=0) as failing, grpc.insecure_channel(failing.address) as other:
        (load_error,) = _models(other).GetModelStatus(_status_request(), timeout=TIMEOUT).model_version_status
        rest_status = requests.get(f"http://127.0.0.1:{failing.rest_port}/v1/models/colornet", timeout=TIMEOUT).text
        predict_refusal = _refusal(_prediction(other).Predict, _photo_request())
    assert "<model dir>/1/saved_model.pb" in load_error.status.error_message  # reported, without the path
    assert predict_refusal == (grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(colornet)")
    answers = _refusals(tint_server, channel) + [load_error.status.error_message, rest_status]
    assert len(answers) == 32
    paths = {str(path) for folder in (tint_models, broken) for path in (folder, folder.resolve())}
    host = re.compile("|".join(rf"\b{re.escape(name)}\b" for name in {socket.gethostname(), socket.getfqdn()}))
    for answer in answers:
        assert not any(path in answer for path in paths), answer
        assert not host.search(answer), answer


# -- issue 19 item 7: Expect: 100-continue -----------------------------------------------------------


def test_expect_100_continue_gets_100_then_the_answer(tint_server):
    body = json.dumps({"instances": [{"b64": _b64(jpeg_bytes())}]}).encode()
    with socket.create_connection(("127.0.0.1", tint_server.rest_port), timeout=TIMEOUT) as sock:
        sock.sendall(f"POST /v1/models/colornet:predict HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
                     f"Expect: 100-continue\r\n\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 100 ")  # before any byte of the body is sent
        sock.sendall(body)
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            reply += sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 200 ") and b'"predictions"' in reply


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_curl_posting_over_1_mib_gets_its_predictions(tint_server, tmp_path):
    # curl sends "Expect: 100-continue" for a body over 1 MiB (the README's curl example with a large photo).
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (700, 700, 3), dtype=np.uint8))
    photo = io.BytesIO()
    noise.save(photo, format="JPEG", quality=95)
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"instances": [{"b64": _b64(photo.getvalue())}] * 2}))
    assert body.stat().st_size > 1024 * 1024
    result = subprocess.run(["curl", "-sS", "-v", "-X", "POST", "--data-binary", f"@{body}",
                             f"http://127.0.0.1:{tint_server.rest_port}/v1/models/colornet:predict"],
                            capture_output=True, text=True, timeout=120, check=True)
    assert "Expect: 100-continue" in result.stderr
    predictions = json.loads(result.stdout)["predictions"]
    assert [prediction["errors"] for prediction in predictions] == [""] * 2


# -- issue 19 item 8: requests that were answered 500 ------------------------------------------------


@pytest.mark.parametrize("path, body, message", [
    (":predict", b'{"instances": ["\\ud800"]}', "JSON Parse error: The surrogate pair in string is invalid."),
    ("/versions/" + "7" * 5000 + ":predict", b'{"instances": ["x"]}', "Failed to convert version: 777"),
    ("/versions/" + "7" * 5000, b"", "Failed to convert version: 777"),
    (":predict", b'{"signature_name": "__saved_model_init_op", "inputs": []}',
     "Failed to get input map for signature: __saved_model_init_op"),
    (":predict", b'{"signature_name": "__saved_model_init_op", "instances": [1]}',
     "Failed to get input map for signature: __saved_model_init_op"),
])
def test_malformed_rest_requests_are_400_not_500(tint_server, path, body, message):
    target = f"/v1/models/colornet{path}"
    status, answer = http(tint_server.rest_port, post(target, body) if body else
                          f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert status == 400 and answer["error"].startswith(message)
    assert len(answer["error"]) < 400  # the 5000 digits are not echoed whole


def test_the_init_op_signature_is_refused_over_grpc(channel):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = contract.MODEL_NAME
    request.model_spec.signature_name = "__saved_model_init_op"
    assert _refusal(_prediction(channel).Predict, request) == (
        grpc.StatusCode.INVALID_ARGUMENT, "Failed to get input map for signature: __saved_model_init_op")


# -- issue 19 item 9: gRPC messages that do not parse ---------------------------------------------------


def _nested_groups(depth):
    """An unknown field of ``depth`` nested groups (field 104): protobuf refuses nesting past 100."""
    return b"\xc3\x06" * depth + b"\xc4\x06" * depth


@pytest.mark.parametrize("data", [
    b"garbage, not a protobuf message",
    _photo_request().SerializeToString()[:-7],  # truncated
    b"\x0a\x04\x0a\x02\xff\xfe",  # model_spec.name is not UTF-8
    _nested_groups(200),
], ids=["garbage", "truncated", "invalid-utf8-name", "nested-past-the-limit"])
def test_undecodable_grpc_messages_are_invalid_argument(channel, data, caplog):
    predict = channel.unary_unary("/tensorflow.serving.PredictionService/Predict")  # raw bytes both ways
    with pytest.raises(grpc.RpcError) as raised:
        predict(data, timeout=TIMEOUT)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details().startswith("the request message (") and "Error" not in raised.value.details()
    assert "Traceback" not in caplog.text


def test_nesting_within_the_limit_parses(channel):
    # The same unknown field nested 50 deep is a valid message: the refusal above is protobuf's depth limit.
    request = _photo_request(name="other").SerializeToString() + _nested_groups(50)
    predict = channel.unary_unary("/tensorflow.serving.PredictionService/Predict")
    with pytest.raises(grpc.RpcError) as raised:
        predict(request, timeout=TIMEOUT)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_1_mib_model_name_gets_not_found_with_the_name_clipped(channel, rest):
    name = "m" * (1024 * 1024)
    code, details = _refusal(_prediction(channel).Predict, _photo_request(name=name))
    assert code == grpc.StatusCode.NOT_FOUND
    assert details.startswith("Servable not found for request: Latest(mmm") and len(details) < 400
    code, details = _refusal(_models(channel).GetModelStatus, _status_request(name=name, version_label="é" * 300000))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and len(details.encode()) < 400
