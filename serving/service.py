"""The serving API in proto terms, shared by the gRPC servicers and the REST API.

``Service`` answers GetModelStatus, GetModelMetadata and Predict for the one model of a
``ModelStore`` as TF Serving does (same messages, codes and, where it has them, wording), with
every request checked by ``Admission`` before anything is expanded or decoded; it refuses
Classify, Regress and MultiInference as TF Serving refuses them for a model without classify or
regress signatures. Its methods block (TensorFlow runs in them): the transports call them on
their worker threads.
"""
import grpc
import tensorflow as tf
from google.protobuf import any_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, model_pb2, predict_pb2

from ..schemas import serving_contract as contract
from .admission import tensor_to_array
from .errors import ServingError, clipped
from .predict import check_names, run_signature, signature_def

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
            response.outputs[name].CopyFrom(tf.make_tensor_proto(array))
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
