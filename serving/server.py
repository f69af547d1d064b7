"""A TF Serving-compatible gRPC server for the versioned SavedModels the Pusher writes.

Implements ``tensorflow.serving.PredictionService`` (Predict, GetModelMetadata) and
``tensorflow.serving.ModelService`` (GetModelStatus), so TF Serving's clients work
unchanged; Classify, Regress, MultiInference and HandleReloadConfigRequest answer
UNIMPLEMENTED. ``start_server`` runs it in-process; ``serve`` blocks until SIGTERM/SIGINT.
"""
import concurrent.futures
import dataclasses
import functools
import logging
import signal
import threading

import grpc
import tensorflow as tf
from google.protobuf import any_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from ..schemas import serving_contract as contract
from .defaults import DEFAULT_MAX_MESSAGE_BYTES
from .model_store import ModelStore, VersionNotFound
from .predict import RequestLimits, ServingError, predict
from .warmup import replay_warmup_requests

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 16
SIGNATURE_DEF_FIELD = "signature_def"


def _answers_serving_errors(method):
    """Turns a ServingError raised by a handler into the gRPC status it names."""

    @functools.wraps(method)
    def handler(self, request, context):
        try:
            return method(self, request, context)
        except ServingError as error:
            context.abort(error.code, error.message)

    return handler


def _to_ndarray(name, proto):
    try:
        return tf.make_ndarray(proto)
    except Exception as error:  # noqa: BLE001 - malformed TensorProtos fail in many ways
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"input {name!r} is not a valid tensor: {error}") from None


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, store, limits):
        self.store = store
        self.limits = limits

    @_answers_serving_errors
    def Predict(self, request, context):
        self.limits.check_request_bytes(request.ByteSize())
        loaded = self.store.resolve(request.model_spec)
        signature_name = request.model_spec.signature_name or contract.SERVING_SIGNATURE
        inputs = {name: _to_ndarray(name, proto) for name, proto in request.inputs.items()}
        outputs = predict(loaded, signature_name, inputs, request.output_filter, self.limits)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = self.store.name
        response.model_spec.version.value = loaded.version
        response.model_spec.signature_name = signature_name
        for name, array in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(array))
        return response

    @_answers_serving_errors
    def GetModelMetadata(self, request, context):
        loaded = self.store.resolve(request.model_spec)
        fields = set(request.metadata_field)
        if not fields:
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"GetModelMetadataRequest must specify at least one metadata_field "
                               f"({SIGNATURE_DEF_FIELD!r})")
        if fields - {SIGNATURE_DEF_FIELD}:
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"metadata fields {sorted(fields - {SIGNATURE_DEF_FIELD})} are not supported; "
                               f"only {SIGNATURE_DEF_FIELD!r} is")
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for name, definition in loaded.signature_defs.items():
            signature_map.signature_def[name].CopyFrom(definition)
        packed = any_pb2.Any()
        packed.Pack(signature_map)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = self.store.name
        response.model_spec.version.value = loaded.version
        response.metadata[SIGNATURE_DEF_FIELD].CopyFrom(packed)
        return response

    def Classify(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED,
                      "Classify is not served: colornet models have no classify signature")

    def Regress(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "Regress is not served: colornet models have no regress signature")

    def MultiInference(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "MultiInference is not served")


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, store):
        self.store = store

    @_answers_serving_errors
    def GetModelStatus(self, request, context):
        spec = request.model_spec
        if spec.name != self.store.name:
            raise ServingError(grpc.StatusCode.NOT_FOUND, f"model {spec.name!r} is not served here "
                                                          f"(this server serves {self.store.name!r})")
        version = spec.version.value if spec.HasField("version") else None
        try:
            statuses = self.store.statuses(version)
        except VersionNotFound as error:
            raise ServingError(grpc.StatusCode.NOT_FOUND, str(error)) from None
        response = get_model_status_pb2.GetModelStatusResponse()
        for status in statuses:
            entry = response.model_version_status.add(version=status.version, state=status.state)
            if status.error:
                entry.status.error_code = grpc.StatusCode.UNKNOWN.value[0]
                entry.status.error_message = status.error
        return response

    def HandleReloadConfigRequest(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED,
                      "config reloads are not supported: this server watches one model dir")


def _address(host, port):
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


@dataclasses.dataclass
class RunningServer:
    """A started server: ``port`` it listens on (gRPC), ``rest_port`` (or None), ``stop()``."""

    grpc_server: grpc.Server
    store: ModelStore
    host: str
    port: int
    rest_server: object = None

    @property
    def address(self):
        return _address(self.host, self.port)

    @property
    def rest_port(self):
        return self.rest_server.port if self.rest_server else None

    def stop(self, grace=5.0):
        """Stops taking requests, lets those in flight finish for up to ``grace`` seconds."""
        if self.rest_server:
            self.rest_server.stop()
        self.grpc_server.stop(grace).wait()
        self.store.stop()

    def wait(self):
        self.grpc_server.wait_for_termination()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_server(model_dir, host="127.0.0.1", port=0, model_name=contract.MODEL_NAME, poll_seconds=2.0,
                 num_versions=1, limits=RequestLimits(), max_message_bytes=DEFAULT_MAX_MESSAGE_BYTES,
                 rest_port=None, workers=DEFAULT_WORKERS):
    """Loads (and warms up) the newest version(s) under ``model_dir``, starts serving, returns a RunningServer.

    ``port=0`` picks a free port (read it from ``.port``). The model dir may be empty or
    missing at start: the server then answers NOT_FOUND until the first version lands.
    """
    store = ModelStore(model_dir, name=model_name, num_versions=num_versions, poll_seconds=poll_seconds,
                       warmup=replay_warmup_requests).start()
    # gRPC refuses messages over its limit before the handler sees them; keep it above the
    # request limit so oversized requests get the handler's clearer RESOURCE_EXHAUSTED message.
    receive_limit = max(max_message_bytes, limits.max_request_bytes + 1024 * 1024)
    grpc_server = grpc.server(
        concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc-serve"),
        options=[("grpc.max_receive_message_length", receive_limit),
                 ("grpc.max_send_message_length", max_message_bytes)])
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionServicer(store, limits), grpc_server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(store), grpc_server)
    try:
        bound = grpc_server.add_insecure_port(_address(host, port))
    except RuntimeError as error:
        bound = 0
        log.debug("binding %s failed: %s", _address(host, port), error)
    if not bound:
        store.stop()
        raise OSError(f"cannot listen on {_address(host, port)} (port in use or host not local?)")
    grpc_server.start()
    running = RunningServer(grpc_server, store, host, bound)
    if rest_port is not None:
        from .rest import start_rest_server

        running.rest_server = start_rest_server(store, limits, host, rest_port)
    log.info("serving model %s from %s on %s", model_name, model_dir, running.address)
    return running


def serve(model_dir, grace=5.0, on_ready=None, **server_options):
    """Runs a server until SIGTERM or SIGINT, then stops it gracefully. For the ``serve`` command."""
    stop_requested = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop_requested.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        running = start_server(model_dir, **server_options)
        if on_ready:
            on_ready(running)
        stop_requested.wait()
        running.stop(grace)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
