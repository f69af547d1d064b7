"""The serving API in proto terms, shared by the gRPC servicers and the REST API.

``Service`` answers GetModelStatus, GetModelMetadata and Predict for the one model of a
``ModelStore`` as TF Serving does (same messages, codes and, where it has them, wording), with
every request checked by ``Admission`` before anything is expanded or decoded. Its methods
block (TensorFlow runs in them): the transports call them on their worker threads.
"""
import grpc
import tensorflow as tf
from google.protobuf import any_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, predict_pb2

from ..schemas import serving_contract as contract
from .admission import tensor_to_array
from .errors import ServingError
from .model_store import VersionNotFound
from .predict import check_names, run_signature, signature_def

SIGNATURE_DEF_FIELD = "signature_def"


def request_arrays(loaded, request, limits):
    """(signature name, name -> numpy array) of a PredictRequest, each input checked before it is converted."""
    signature_name = request.model_spec.signature_name or contract.SERVING_SIGNATURE
    definition = signature_def(loaded, signature_name)
    check_names(definition, signature_name, request.inputs, request.output_filter)
    return signature_name, {name: tensor_to_array(name, proto, definition.inputs[name], limits)
                            for name, proto in request.inputs.items()}


class Service:
    def __init__(self, store, admission):
        self.store = store
        self.admission = admission

    def status(self, model_spec):
        """GetModelStatusResponse for every version seen (or the one the spec names, by number or label)."""
        version = self.store.requested_version(model_spec)
        try:
            statuses = self.store.statuses(version)
        except VersionNotFound as error:
            raise ServingError(grpc.StatusCode.NOT_FOUND, str(error)) from None
        response = get_model_status_pb2.GetModelStatusResponse()
        for status in statuses:
            entry = response.model_version_status.add(version=status.version, state=status.state)
            entry.status.error_code = grpc.StatusCode.UNKNOWN.value[0] if status.error else 0
            entry.status.error_message = status.error
        return response

    def metadata(self, model_spec, fields=(SIGNATURE_DEF_FIELD,)):
        """GetModelMetadataResponse with the served version's SignatureDefMap (the one field TF Serving has)."""
        loaded = self.store.resolve(model_spec)
        fields = set(fields)
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

    def predict(self, request):
        """PredictResponse for a PredictRequest: each input checked and converted without expansion first."""
        loaded = self.store.resolve(request.model_spec)
        signature_name, arrays = request_arrays(loaded, request, self.admission.limits)
        outputs = run_signature(loaded, signature_name, arrays, self.admission, request.output_filter)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = self.store.name
        response.model_spec.version.value = loaded.version
        response.model_spec.signature_name = signature_name
        for name, array in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(array))
        return response
