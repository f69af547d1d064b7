"""TF Serving's REST API (JSON) beside the gRPC server, for curl and browsers.

* ``GET  /v1/models/<name>[/versions/<v>]``           -> version statuses
* ``GET  /v1/models/<name>[/versions/<v>]/metadata``  -> signature_def metadata
* ``POST /v1/models/<name>[/versions/<v>]:predict``   -> ``{"instances": [...]}`` (row format) or
  ``{"inputs": ...}`` (columnar), optional ``"signature_name"``.

Binary values travel as ``{"b64": "<standard base64>"}`` both ways: outputs are base64 when
their name ends in ``_bytes`` (TF Serving's rule) or when they are not UTF-8 text (PNGs).
Errors answer ``{"error": "..."}`` with the HTTP status of the gRPC code.
"""
import base64
import http.server
import json
import logging
import re
import threading

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow_serving.apis import model_pb2

from ..schemas import serving_contract as contract
from .model_store import State, VersionNotFound
from .predict import ServingError, predict

log = logging.getLogger(__name__)
_ROUTE = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?(?P<action>/metadata|:predict)?$")
_HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.NOT_FOUND: 404, grpc.StatusCode.RESOURCE_EXHAUSTED: 413,
    grpc.StatusCode.UNIMPLEMENTED: 501, grpc.StatusCode.INTERNAL: 500,
}


def _from_json(value):
    """JSON values to Python values: ``{"b64": ...}`` becomes bytes, lists recurse."""
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    if isinstance(value, list):
        return [_from_json(item) for item in value]
    if isinstance(value, str):
        return value.encode()
    return value


def _to_json(name, array):
    """A numpy output as JSON values; bytes become text or ``{"b64": ...}``."""
    if array.dtype != object:
        return array.tolist()
    binary = name.endswith("_bytes")

    def convert(value):
        if isinstance(value, list):
            return [convert(item) for item in value]
        if not isinstance(value, bytes):
            return value
        if not binary:
            try:
                return value.decode()
            except UnicodeDecodeError:
                pass
        return {"b64": base64.b64encode(value).decode("ascii")}

    return convert(array.tolist())


def _input_arrays(body, definition):
    """name -> numpy array from a predict body, typed by the signature's input dtypes."""
    names = list(definition.inputs)
    if ("instances" in body) == ("inputs" in body):
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, 'the body needs exactly one of "instances" or "inputs"')
    if "instances" in body:
        rows = body["instances"]
        named = bool(rows) and isinstance(rows[0], dict) and set(rows[0]) != {"b64"}
        if len(names) == 1 and not named:
            columns = {names[0]: _from_json(rows)}
        elif all(isinstance(row, dict) for row in rows):
            columns = {name: [_from_json(row.get(name)) for row in rows] for name in names}
        else:
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"each instance must be an object with the inputs {names}")
    else:
        inputs = body["inputs"]
        columns = ({name: _from_json(value) for name, value in inputs.items()}
                   if isinstance(inputs, dict) and set(inputs) != {"b64"} else {names[0]: _from_json(inputs)})
    arrays = {}
    for name, value in columns.items():
        dtype = tf.as_dtype(definition.inputs[name].dtype) if name in definition.inputs else tf.string
        try:
            arrays[name] = np.array(value, dtype=object if dtype == tf.string else dtype.as_numpy_dtype)
        except (TypeError, ValueError) as error:
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"input {name!r}: {error}") from None
    return arrays


class _Handler(http.server.BaseHTTPRequestHandler):
    store = None
    limits = None
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # quiet: the gRPC side logs what matters
        pass

    def _reply(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self, method):
        match = _ROUTE.match(self.path)
        if not match or (method == "POST") != (match["action"] == ":predict"):
            raise ServingError(grpc.StatusCode.NOT_FOUND, f"no route {method} {self.path}")
        spec = model_pb2.ModelSpec(name=match["name"])
        if match["version"]:
            spec.version.value = int(match["version"])
        return spec, match["action"]

    def _serve(self, method):
        try:
            self._reply(200, self._answer(method))
        except ServingError as error:
            self._reply(_HTTP_STATUS.get(error.code, 500), {"error": error.message})
        except json.JSONDecodeError as error:
            self._reply(400, {"error": f"the body is not JSON: {error}"})
        except Exception as error:  # noqa: BLE001 - answer in JSON whatever happened, and log it
            log.exception("REST %s %s failed", method, self.path)
            self._reply(500, {"error": f"{type(error).__name__}: {error}"})

    def _answer(self, method):
        spec, action = self._route(method)
        if action is None:
            return self._status(spec)
        loaded = self.store.resolve(spec)
        model_spec = {"name": self.store.name, "version": str(loaded.version)}
        if action == "/metadata":
            signature_defs = {name: json_format.MessageToDict(definition)
                              for name, definition in loaded.signature_defs.items()}
            return {"model_spec": {**model_spec, "signature_name": ""},
                    "metadata": {"signature_def": {"signature_def": signature_defs}}}
        size = int(self.headers.get("Content-Length", 0))
        self.limits.check_request_bytes(size)
        body = json.loads(self.rfile.read(size) or b"{}")
        if not isinstance(body, dict):
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, "the body must be a JSON object")
        signature_name = body.get("signature_name", contract.SERVING_SIGNATURE)
        definition = loaded.signature_defs.get(signature_name)
        if definition is None:
            raise ServingError(grpc.StatusCode.FAILED_PRECONDITION,
                               f"Serving signature name: {signature_name!r} not found in signature def")
        outputs = predict(loaded, signature_name, _input_arrays(body, definition), limits=self.limits)
        converted = {name: _to_json(name, array) for name, array in outputs.items()}
        if "inputs" in body:
            return {"outputs": next(iter(converted.values())) if len(converted) == 1 else converted}
        if len(converted) == 1:
            return {"predictions": next(iter(converted.values()))}
        rows = len(next(iter(converted.values())))
        return {"predictions": [{name: values[row] for name, values in converted.items()} for row in range(rows)]}

    def _status(self, spec):
        if spec.name != self.store.name:
            raise ServingError(grpc.StatusCode.NOT_FOUND, f"model {spec.name!r} is not served here")
        try:
            statuses = self.store.statuses(spec.version.value if spec.HasField("version") else None)
        except VersionNotFound as error:
            raise ServingError(grpc.StatusCode.NOT_FOUND, str(error)) from None
        return {"model_version_status": [
            {"version": str(status.version), "state": State.Name(status.state),
             "status": {"error_code": "UNKNOWN" if status.error else "OK", "error_message": status.error}}
            for status in statuses]}

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")


class RestServer:
    def __init__(self, httpd):
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(target=httpd.serve_forever, name="rest-serve", daemon=True)
        self._thread.start()

    def stop(self):
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


def start_rest_server(store, limits, host, port):
    """Serves the REST API for ``store`` on ``host:port`` (0: a free port) in a background thread."""
    handler = type("RestHandler", (_Handler,), {"store": store, "limits": limits})
    return RestServer(http.server.ThreadingHTTPServer((host, port), handler))
