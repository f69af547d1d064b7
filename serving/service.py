"""The serving API in proto terms, shared by the gRPC servicers and the REST API.

``Service`` answers GetModelStatus, GetModelMetadata and Predict for the one model of a
``ModelStore`` as TF Serving does (same messages, codes and, where it has them, wording), with
every request checked by ``Admission`` before anything is expanded or decoded; it refuses
Classify, Regress and MultiInference as TF Serving refuses them for a model without classify or
regress signatures. Its methods block (TensorFlow runs in them): the transports call them on
their worker threads.
"""
import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import any_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, model_pb2, predict_pb2

from ..schemas import serving_contract as contract
from .admission import tensor_to_array
from .errors import ServingError, clipped
from .predict import check_names, run_signature, signature_def
from .tensors import typed_field

SIGNATURE_DEF_FIELD = "signature_def"
# TF Serving's inference APIs: the SignatureDef method_name each runs (signature_constants.h), the
# word its errors use for it.
INFERENCE_METHODS = {"Classify": ("tensorflow/serving/classify", "classification"),
                     "Regress": ("tensorflow/serving/regress", "regression")}
_METHOD_BY_NAME = {method_name: method for method, (method_name, _) in INFERENCE_METHODS.items()}


def model_spec_of(request):
    """A request's ``model_spec``; INVALID_ARGUMENT "Missing ModelSpec" (TF Serving's wording) when it has none."""
    if not request.HasField("model_spec"):
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec")
    return request.model_spec


def request_arrays(loaded, request, limits):
    """(signature name, name -> numpy array) of a PredictRequest, each input checked before it is converted."""
    signature_name = request.model_spec.signature_name or contract.SERVING_SIGNATURE
    definition = signature_def(loaded, signature_name)
    check_names(definition, signature_name, request.inputs, request.output_filter)
    return signature_name, {name: tensor_to_array(name, proto, definition.inputs[name], limits)
                            for name, proto in request.inputs.items()}


def check_inference_signature(loaded, method, signature_name):
    """Refuses a Classify or Regress (``method``) of ``signature_name`` as TF Serving refuses it for a
    signature of another method: INVALID_ARGUMENT (``classifier.cc``, ``regressor.cc``). colornet
    models only have predict signatures; a signature that really is ``method``'s is UNIMPLEMENTED."""
    method_name, kind = INFERENCE_METHODS[method]
    definition = loaded.signature_defs.get(signature_name)
    if definition is None:
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"No signature was found with the name: {clipped(signature_name)}")
    if definition.method_name == method_name:
        raise ServingError(grpc.StatusCode.UNIMPLEMENTED, f"{method} is not served here: colornet runs Predict only")
    raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                       f"Expected {kind} signature method_name to be {method_name}. "
                       f"Was: {definition.method_name}")


# TensorProto's float_val (5) and double_val (6): packed fixed-width fields, whose bytes on the wire are
# the little-endian values, i.e. ``tensor_content``.
_PACKED_FIELD_NUMBERS = {"float_val": 5, "double_val": 6}


def _varint(number):
    data = bytearray()
    while number > 0x7F:
        data.append(number & 0x7F | 0x80)
        number >>= 7
    return bytes(data) + bytes([number])


def output_tensor(array):
    """A Predict output as TF Serving writes it (``kAsProtoField``, its default): values in the typed
    field, ``float_val`` for floats, not ``tensor_content``; TF Serving's example client reads
    ``outputs[...].float_val``. Floats and doubles move as bytes (a million floats in ~1 ms, not
    ~200 ms through Python lists); half floats go as their bits, complex numbers as (real,
    imaginary) pairs."""
    proto = tf.make_tensor_proto(array)
    content = proto.tensor_content
    if content:
        proto.ClearField("tensor_content")
        field = typed_field(proto.dtype)
        if field in _PACKED_FIELD_NUMBERS:
            proto.MergeFromString(_varint(_PACKED_FIELD_NUMBERS[field] << 3 | 2) + _varint(len(content)) + content)
            return proto
        values = array.reshape(-1)
        if values.dtype == np.float16:
            values = values.view(np.uint16)
        elif values.dtype.kind == "c":
            values = values.view(values.real.dtype)
        getattr(proto, field).extend(values.tolist())
    return proto


class Service:
    def __init__(self, store, admission):
        self.store = store
        self.admission = admission

    def status(self, model_spec):
        """GetModelStatusResponse for every version seen (or the one the spec names, by number or label)."""
        response = get_model_status_pb2.GetModelStatusResponse()
        for status in self.store.version_statuses(model_spec):
            entry = response.model_version_status.add(version=status.version, state=status.state)
            entry.status.error_code = grpc.StatusCode.UNKNOWN.value[0] if status.error else 0
            entry.status.error_message = status.error
        return response

    def metadata(self, model_spec, fields=(SIGNATURE_DEF_FIELD,)):
        """GetModelMetadataResponse with the served version's SignatureDefMap (the one field TF Serving has)."""
        fields = set(fields)
        if not fields:
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"GetModelMetadataRequest must specify at least one metadata_field "
                               f"({SIGNATURE_DEF_FIELD!r})")
        if fields - {SIGNATURE_DEF_FIELD}:
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"MetadataField {clipped(sorted(fields - {SIGNATURE_DEF_FIELD})[0])} is not supported "
                               f"(only {SIGNATURE_DEF_FIELD!r} is)")
        loaded = self.store.resolve(model_spec)
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

    def predict(self, request):
        """PredictResponse for a PredictRequest: each input checked and converted without expansion first."""
        loaded = self.store.resolve(model_spec_of(request))
        signature_name, arrays = request_arrays(loaded, request, self.admission.limits)
        outputs = run_signature(loaded, signature_name, arrays, self.admission, request.output_filter)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = self.store.name
        response.model_spec.version.value = loaded.version
        response.model_spec.signature_name = signature_name
        for name, array in outputs.items():
            response.outputs[name].CopyFrom(output_tensor(array))
        return response

    def refuse_inference(self, method, model_spec):
        """Classify or Regress: the request checked as TF Serving checks it, then refused."""
        loaded = self.store.resolve(model_spec)
        check_inference_signature(loaded, method, model_spec.signature_name or contract.SERVING_SIGNATURE)

    def refuse_multi_inference(self, request):
        """MultiInference: TF Serving resolves the first task's model (no task: a spec without a name),
        then checks each task's signature for its method (``multi_inference.cc``)."""
        loaded = self.store.resolve(request.tasks[0].model_spec if request.tasks else model_pb2.ModelSpec())
        for task in request.tasks:
            signature_name = task.model_spec.signature_name or contract.SERVING_SIGNATURE
            method = _METHOD_BY_NAME.get(task.method_name)
            if method is None:
                raise ServingError(grpc.StatusCode.UNIMPLEMENTED,
                                   f"Unsupported signature method_name: {clipped(task.method_name)}")
            check_inference_signature(loaded, method, signature_name)
