"""Test harness for the client: a gRPC server that answers as TensorFlow Serving does where the client
depends on it, built on ``tensorflow_serving.apis``' own classes.

It does what the embedded server cannot be made to do on demand: refuse batches over a
``max_batch_size`` with the batch scheduler's own words (TensorFlow's ``shared_batch_scheduler.h``:
"Task size N is larger than maximum input batch size M", INVALID_ARGUMENT), map version labels
to versions (``model_spec.version_label``) with GetModelStatus ignoring them as TF Serving's
``get_model_status_impl.cc`` does, return a per-photo ``errors`` output, name its output as
another release of the contract might, go away and come back on the same port, and refuse calls over
``maximum_concurrent_rpcs`` as gRPC itself does (RESOURCE_EXHAUSTED "Concurrent RPC limit exceeded!",
before the servicer sees them) while a slow Predict (``predict_seconds``) holds the slot. It records
every request it receives, parsed with TF Serving's classes, so a test sees exactly what went
over the wire.

Colorizing is a stand-in: an accepted photo comes back as the PNG signature followed by its own
bytes (so a test can tell which output belongs to which photo); anything else is refused.
"""
import concurrent.futures
import struct
import threading
import time
import zlib

import grpc
from google.protobuf import any_pb2
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2, model_service_pb2_grpc,
                                     predict_pb2, prediction_service_pb2_grpc)

from colornet.schemas import serving_contract as contract

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SERVED_VERSIONS = (1, 2)
LABELS = {"stable": 1, "canary": 2}


def fake_png(photo):
    return PNG_SIGNATURE + photo


def _accepted(photo):
    return any(photo.startswith(magic) for magic in contract.ACCEPTED_IMAGE_MAGIC)


class _Servicer(prediction_service_pb2_grpc.PredictionServiceServicer, model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, server):
        self.server = server

    def _version(self, spec, context):
        if spec.name != contract.MODEL_NAME:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({spec.name})")
        if spec.WhichOneof("version_choice") == "version_label":
            if spec.version_label not in LABELS:
                context.abort(grpc.StatusCode.NOT_FOUND,
                              f"Servable not found for request: Specific({spec.name}, {spec.version_label})")
            return LABELS[spec.version_label]
        if spec.HasField("version"):
            if spec.version.value not in SERVED_VERSIONS:
                context.abort(grpc.StatusCode.NOT_FOUND,
                              f"Servable not found for request: Specific({spec.name}, {spec.version.value})")
            return spec.version.value
        return max(SERVED_VERSIONS)

    def Predict(self, request, context):
        self.server.requests.append(request)
        time.sleep(self.server.predict_seconds)
        version = self._version(request.model_spec, context)
        photos = list(request.inputs[contract.IMAGES_INPUT].string_val)
        limit = self.server.max_batch_size
        if limit is not None and len(photos) > limit:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"Task size {len(photos)} is larger than maximum input batch size {limit}")
        if not self.server.errors_output and not all(map(_accepted, photos)):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "Unknown image file format. One of JPEG, PNG, GIF, BMP required.")
        response = predict_pb2.PredictResponse()
        response.model_spec.name = contract.MODEL_NAME
        response.model_spec.version.value = version
        colorized = response.outputs[self.server.colorized_output]
        colorized.dtype = 7  # DT_STRING
        colorized.tensor_shape.dim.add(size=len(photos))
        colorized.string_val.extend(fake_png(photo) if _accepted(photo) else b"" for photo in photos)
        if self.server.errors_output:
            errors = response.outputs[contract.ERRORS_OUTPUT]
            errors.dtype = 7
            errors.tensor_shape.dim.add(size=len(photos))
            errors.string_val.extend(b"" if _accepted(photo) else b"Unknown image file format" for photo in photos)
        return response

    def GetModelMetadata(self, request, context):
        self.server.requests.append(request)
        version = self._version(request.model_spec, context)
        signatures = get_model_metadata_pb2.SignatureDefMap()
        signatures.signature_def[contract.SERVING_SIGNATURE].method_name = "tensorflow/serving/predict"
        packed = any_pb2.Any()
        packed.Pack(signatures)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = contract.MODEL_NAME
        response.model_spec.version.value = version
        response.metadata["signature_def"].CopyFrom(packed)
        return response

    def GetModelStatus(self, request, context):
        self.server.requests.append(request)
        spec = request.model_spec
        versions = [spec.version.value] if spec.HasField("version") else sorted(SERVED_VERSIONS, reverse=True)
        response = get_model_status_pb2.GetModelStatusResponse()
        for version in versions:
            response.model_version_status.add(version=version, state=get_model_status_pb2.ModelVersionStatus.AVAILABLE)
        return response


class TFServingLike:
    """A server on 127.0.0.1:``port`` (0: a free one); ``start()``/``stop()`` may be repeated on the same port."""

    def __init__(self, port=0, max_batch_size=None, errors_output=False, colorized_output=contract.COLORIZED_OUTPUT,
                 max_concurrent_rpcs=None, predict_seconds=0.0):
        self.port = port
        self.max_concurrent_rpcs = max_concurrent_rpcs
        self.predict_seconds = predict_seconds
        self.max_batch_size = max_batch_size
        self.errors_output = errors_output
        self.colorized_output = colorized_output
        self.requests = []
        self._server = None
        self._lock = threading.Lock()

    @property
    def target(self):
        return f"127.0.0.1:{self.port}"

    def predict_batch_sizes(self):
        return [len(request.inputs[contract.IMAGES_INPUT].string_val) for request in self.requests
                if isinstance(request, predict_pb2.PredictRequest)]

    def start(self):
        with self._lock:
            server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=4),
                                 maximum_concurrent_rpcs=self.max_concurrent_rpcs)
            servicer = _Servicer(self)
            prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(servicer, server)
            model_service_pb2_grpc.add_ModelServiceServicer_to_server(servicer, server)
            self.port = server.add_insecure_port(f"127.0.0.1:{self.port}")
            server.start()
            self._server = server
        return self

    def stop(self):
        with self._lock:
            if self._server is not None:
                self._server.stop(grace=None).wait(timeout=10)
                self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def png_header(width, height):
    """A PNG that declares ``width`` x ``height`` pixels and holds almost none: a decompression bomb's header."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
