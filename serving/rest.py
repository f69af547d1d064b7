"""TF Serving's REST API beside the gRPC server (``tensorflow_serving/model_servers/http_rest_api_handler.cc``).

* ``GET  /v1/models/<name>[/versions/<v>|/labels/<label>]``           -> version statuses
* ``GET  /v1/models/<name>[/versions/<v>|/labels/<label>]/metadata``  -> signature_def metadata
* ``POST /v1/models/<name>[/versions/<v>|/labels/<label>]:predict``   -> ``{"instances": ...}`` (row
  format, answered ``{"predictions": ...}``) or ``{"inputs": ...}`` (columnar, answered
  ``{"outputs": ...}``), optional ``"signature_name"``; ``:classify`` / ``:regress`` answer 400
  as TF Serving does for a model without classify or regress signatures.

Routes are TF Serving's regular expressions (case-insensitive; the name and label are
percent-decoded); a ``/v1/`` path they do not match is 400 "Malformed request", any other path
404. Tensors follow TF Serving's JSON mapping (``json_tensor.py``); status and metadata are the
proto messages printed as TF Serving prints them (metadata with proto field names such as
``tensor_shape`` and ``method_name``; every field, defaults included). Errors answer
``{"error": "..."}`` with TF Serving's HTTP status for the gRPC code (``HTTP_STATUS``). The HTTP
transport (timeouts, connection and body limits) is ``http_server.py``.
"""
import asyncio
import contextlib
import json
import logging
import re
import urllib.parse

import grpc
from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2, model_pb2

from ..schemas import serving_contract as contract
from .errors import INTERNAL_ERROR, ServingError, clipped
from .http_server import HttpError, HttpServer, error_json
from .json_tensor import parse_json_object, parse_predict_request, predict_response_json
from .predict import run_signature, signature_def
from .service import SIGNATURE_DEF_FIELD

log = logging.getLogger(__name__)

_PREDICTION_ROUTE = re.compile(
    r"/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)", re.IGNORECASE)
_STATUS_ROUTE = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?", re.IGNORECASE)
_API_PATH = re.compile(r"/v1/.*", re.IGNORECASE)
_INT64_MAX = 2 ** 63 - 1

# TF Serving's HTTP status for each gRPC code (http_server.cc: ToHTTPStatusCode).
HTTP_STATUS = {
    grpc.StatusCode.OK: 200, grpc.StatusCode.CANCELLED: 499, grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.DEADLINE_EXCEEDED: 504, grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409, grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429, grpc.StatusCode.FAILED_PRECONDITION: 400, grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400, grpc.StatusCode.UNIMPLEMENTED: 501, grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503, grpc.StatusCode.DATA_LOSS: 500, grpc.StatusCode.UNAUTHENTICATED: 401,
}


def _invalid(message):
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def _model_spec(name, version, label):
    """A ModelSpec from the route's parts, percent-decoded as TF Serving does."""
    spec = model_pb2.ModelSpec(name=urllib.parse.unquote(name or ""))
    if version:
        digits = version.lstrip("0") or "0"  # by length first: Python refuses to convert over 4300 digits
        if len(digits) > len(str(_INT64_MAX)) or int(digits) > _INT64_MAX:
            raise _invalid(f"Failed to convert version: {clipped(version)} to numeric.")
        spec.version.value = int(digits)
    if label:
        spec.version_label = urllib.parse.unquote(label)
    return spec


def _signature_name(document):
    """The request's ``signature_name`` ("" when it names none)."""
    signature_name = document.get("signature_name", "")
    if not isinstance(signature_name, str):
        raise _invalid("JSON Value: not formatted correctly. 'signature_name' key must be a string value.")
    return signature_name


def _json(message, preserve_names):
    return json_format.MessageToDict(message, including_default_value_fields=True,
                                     preserving_proto_field_name=preserve_names)


class RestApi:
    """Answers one REST request (blocking: runs on the server's worker threads)."""

    def __init__(self, service):
        self.service = service

    def handle(self, method, target, body):
        """(HTTP status, JSON text) for a request."""
        path = urllib.parse.urlsplit(target).path
        try:
            return 200, self._answer(method, path, body)
        except ServingError as error:
            return HTTP_STATUS.get(error.code, 500), error_json(error.message)
        except Exception:  # noqa: BLE001 - answer in JSON whatever happened (without its text), and log it
            log.exception("REST %s %s failed", method, clipped(path))
            return 500, error_json(INTERNAL_ERROR)

    def _answer(self, method, path, body):
        if not _API_PATH.fullmatch(path):
            raise ServingError(grpc.StatusCode.NOT_FOUND, f"no such resource: {clipped(path)} (the API is under /v1/)")
        prediction = _PREDICTION_ROUTE.fullmatch(path) if method == "POST" else None
        status = _STATUS_ROUTE.fullmatch(path) if method == "GET" else None
        if prediction:
            name, version, label, verb = prediction.groups()
            spec = _model_spec(name, version, label)
            if verb.lower() != "predict":
                return self._refuse_inference(verb.capitalize(), spec, body)
            return self._predict(spec, body)
        if status:
            name, version, label, metadata = status.groups()
            if not name:
                raise _invalid("Missing model name in request.")
            spec = _model_spec(name, version, label)
            return self._metadata(spec) if metadata else json.dumps(_json(self.service.status(spec), False))
        raise _invalid(f"Malformed request: {clipped(method)} {clipped(path)}")

    def _refuse_inference(self, method, spec, body):
        """``:classify`` / ``:regress``: refused as TF Serving refuses them for a model without such signatures."""
        spec.signature_name = _signature_name(self._document(body))
        self.service.refuse_inference(method, spec)

    def _document(self, body):
        """The JSON body, its values counted against the batch limit while it is parsed."""
        return parse_json_object(body, self.service.admission.limits.max_batch_size)

    def _metadata(self, spec):
        response = self.service.metadata(spec)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata[SIGNATURE_DEF_FIELD].Unpack(signature_map)
        return json.dumps({"model_spec": _json(response.model_spec, True),
                           "metadata": {SIGNATURE_DEF_FIELD: _json(signature_map, True)}})

    def _predict(self, spec, body):
        document = self._document(body)
        signature_name = _signature_name(document) or contract.SERVING_SIGNATURE
        loaded = self.service.store.resolve(spec)
        definition = signature_def(loaded, signature_name)
        request_format, arrays = parse_predict_request(document, definition.inputs)
        outputs = run_signature(loaded, signature_name, arrays, self.service.admission)
        return predict_response_json(outputs, request_format)


async def start_rest_server(service, pool, host, port):
    """Serves the REST API of ``service`` on ``host:port`` (0: a free port), on the running event loop."""
    api = RestApi(service)
    admission = service.admission

    async def handle(method, target, body):
        try:
            with admission.payload(len(body)):
                return await asyncio.get_running_loop().run_in_executor(pool, api.handle, method, target, body)
        except ServingError as error:
            return HTTP_STATUS.get(error.code, 500), error_json(error.message)

    @contextlib.contextmanager
    def receiving():
        with admission.receiving() as received:
            def take(nbytes):
                try:
                    received(nbytes)
                except ServingError as error:
                    raise HttpError(HTTP_STATUS.get(error.code, 500), error.message) from None

            yield take

    return await HttpServer(handle, receiving, admission.limits).start(host, port)
