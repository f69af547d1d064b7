"""TensorFlow Serving's gRPC API as a client needs it, declared here so the client never imports TensorFlow.

``tensorflow-serving-api``'s generated modules import ``tensorflow.core.framework.*_pb2``, which
imports the whole ``tensorflow`` package: 10-30 s and CUDA probes before a client sends one
photo. The messages a client sends and reads are few and their wire format is fixed by field
numbers, so this module declares them itself, with the package names, message names and field
numbers of TF Serving's and TensorFlow's ``.proto`` files (``tensorflow_serving/apis/model.proto``,
``predict.proto``, ``get_model_status.proto``, ``status.proto``, ``get_model_metadata.proto``;
``tensorflow/core/framework/tensor.proto``, ``tensor_shape.proto``, ``types.proto``;
``tensorflow/core/protobuf/meta_graph.proto``; ``tsl/protobuf/error_codes.proto``).

Fields a client has no use for are left out (``PredictRequest``'s streaming and request
options, ``TensorProto``'s resource and variant values, ``TensorInfo``'s sparse and composite
encodings); a parsed message keeps them as unknown fields, so nothing sent by a newer server is
lost or misread. ``tests/test_client_wire.py`` checks every declared field against
``tensorflow_serving.apis``' own descriptors and round-trips each message both ways.

The descriptors live in a private ``DescriptorPool``, never the default one: a process that
also imports TensorFlow (a test, the benchmarks, ``colornet demo``) registers the real
definitions under the same names there, and the two must not collide.
"""
from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

_Field = descriptor_pb2.FieldDescriptorProto
_STRING, _BYTES, _INT32, _INT64, _UINT32, _UINT64 = (
    _Field.TYPE_STRING, _Field.TYPE_BYTES, _Field.TYPE_INT32, _Field.TYPE_INT64, _Field.TYPE_UINT32, _Field.TYPE_UINT64)
_FLOAT, _DOUBLE, _BOOL, _MESSAGE, _ENUM = (
    _Field.TYPE_FLOAT, _Field.TYPE_DOUBLE, _Field.TYPE_BOOL, _Field.TYPE_MESSAGE, _Field.TYPE_ENUM)

PREDICT_METHOD = "/tensorflow.serving.PredictionService/Predict"
GET_MODEL_METADATA_METHOD = "/tensorflow.serving.PredictionService/GetModelMetadata"
GET_MODEL_STATUS_METHOD = "/tensorflow.serving.ModelService/GetModelStatus"


def _field(name, number, kind, type_name=None, repeated=False, oneof=None):
    """One field; ``type_name`` is the full name of a message or enum type; ``oneof`` an index into the
    message's oneofs."""
    field = _Field(name=name, number=number, type=kind,
                   label=_Field.LABEL_REPEATED if repeated else _Field.LABEL_OPTIONAL)
    if type_name:
        field.type_name = f".{type_name}"
    if oneof is not None:
        field.oneof_index = oneof
    return field


def _map(name, number, owner, value_kind, value_type=None):
    """A ``map<string, value>`` field of message ``owner`` (full name): its repeated entry field and the
    nested entry message protobuf encodes maps with."""
    entry_name = "".join(part.capitalize() for part in name.split("_")) + "Entry"
    entry = descriptor_pb2.DescriptorProto(name=entry_name, field=[
        _field("key", 1, _STRING), _field("value", 2, value_kind, value_type)])
    entry.options.map_entry = True
    return _field(name, number, _MESSAGE, f"{owner}.{entry_name}", repeated=True), entry


def _message(name, fields, enums=(), oneofs=(), nested=()):
    """A message; ``fields`` holds fields and ``_map`` results (which also add the map's entry message)."""
    message = descriptor_pb2.DescriptorProto(name=name, enum_type=list(enums), nested_type=list(nested))
    message.oneof_decl.extend(descriptor_pb2.OneofDescriptorProto(name=oneof) for oneof in oneofs)
    for field in fields:
        if isinstance(field, tuple):
            field, entry = field
            message.nested_type.append(entry)
        message.field.append(field)
    return message


def _enum(name, values):
    return descriptor_pb2.EnumDescriptorProto(name=name, value=[
        descriptor_pb2.EnumValueDescriptorProto(name=value_name, number=number) for value_name, number in values])


def _file(name, package, messages=(), enums=(), dependencies=()):
    return descriptor_pb2.FileDescriptorProto(name=name, package=package, syntax="proto3",
                                              message_type=list(messages), enum_type=list(enums),
                                              dependency=list(dependencies))


# tensorflow/core/framework/types.proto: the data types the tensor codec (serving/tensors.py) handles.
_DATA_TYPES = (("DT_INVALID", 0), ("DT_FLOAT", 1), ("DT_DOUBLE", 2), ("DT_INT32", 3), ("DT_UINT8", 4),
               ("DT_INT16", 5), ("DT_INT8", 6), ("DT_STRING", 7), ("DT_COMPLEX64", 8), ("DT_INT64", 9),
               ("DT_BOOL", 10), ("DT_UINT16", 17), ("DT_COMPLEX128", 18), ("DT_HALF", 19), ("DT_UINT32", 22),
               ("DT_UINT64", 23))
# tsl/protobuf/error_codes.proto (package tensorflow.error): a version's load error in GetModelStatus.
_ERROR_CODES = (("OK", 0), ("CANCELLED", 1), ("UNKNOWN", 2), ("INVALID_ARGUMENT", 3), ("DEADLINE_EXCEEDED", 4),
                ("NOT_FOUND", 5), ("ALREADY_EXISTS", 6), ("PERMISSION_DENIED", 7), ("UNAUTHENTICATED", 16),
                ("RESOURCE_EXHAUSTED", 8), ("FAILED_PRECONDITION", 9), ("ABORTED", 10), ("OUT_OF_RANGE", 11),
                ("UNIMPLEMENTED", 12), ("INTERNAL", 13), ("UNAVAILABLE", 14), ("DATA_LOSS", 15))
# get_model_status.proto: ModelVersionStatus.State.
_VERSION_STATES = (("UNKNOWN", 0), ("START", 10), ("LOADING", 20), ("AVAILABLE", 30), ("UNLOADING", 40),
                   ("END", 50))

_TENSORFLOW = _file("colornet/wire/tensorflow.proto", "tensorflow", enums=[_enum("DataType", _DATA_TYPES)], messages=[
    # tensor_shape.proto
    _message("TensorShapeProto", [
        _field("dim", 2, _MESSAGE, "tensorflow.TensorShapeProto.Dim", repeated=True),
        _field("unknown_rank", 3, _BOOL)],
        nested=[_message("Dim", [_field("size", 1, _INT64), _field("name", 2, _STRING)])]),
    # tensor.proto (without resource_handle_val = 14 and variant_val = 15)
    _message("TensorProto", [
        _field("dtype", 1, _ENUM, "tensorflow.DataType"),
        _field("tensor_shape", 2, _MESSAGE, "tensorflow.TensorShapeProto"),
        _field("version_number", 3, _INT32),
        _field("tensor_content", 4, _BYTES),
        _field("half_val", 13, _INT32, repeated=True),
        _field("float_val", 5, _FLOAT, repeated=True),
        _field("double_val", 6, _DOUBLE, repeated=True),
        _field("int_val", 7, _INT32, repeated=True),
        _field("string_val", 8, _BYTES, repeated=True),
        _field("scomplex_val", 9, _FLOAT, repeated=True),
        _field("int64_val", 10, _INT64, repeated=True),
        _field("bool_val", 11, _BOOL, repeated=True),
        _field("dcomplex_val", 12, _DOUBLE, repeated=True),
        _field("uint32_val", 16, _UINT32, repeated=True),
        _field("uint64_val", 17, _UINT64, repeated=True),
        _field("float8_val", 18, _BYTES)]),
    # meta_graph.proto (TensorInfo without coo_sparse = 4 and composite_tensor = 5)
    _message("TensorInfo", [
        _field("name", 1, _STRING, oneof=0),
        _field("dtype", 2, _ENUM, "tensorflow.DataType"),
        _field("tensor_shape", 3, _MESSAGE, "tensorflow.TensorShapeProto")], oneofs=["encoding"]),
    _message("SignatureDef", [
        _map("inputs", 1, "tensorflow.SignatureDef", _MESSAGE, "tensorflow.TensorInfo"),
        _map("outputs", 2, "tensorflow.SignatureDef", _MESSAGE, "tensorflow.TensorInfo"),
        _field("method_name", 3, _STRING),
        _map("defaults", 4, "tensorflow.SignatureDef", _MESSAGE, "tensorflow.TensorProto")]),
])

_ERRORS = _file("colornet/wire/error_codes.proto", "tensorflow.error", enums=[_enum("Code", _ERROR_CODES)])

_SERVING = _file("colornet/wire/tensorflow_serving.proto", "tensorflow.serving", dependencies=[
    _TENSORFLOW.name, _ERRORS.name, "google/protobuf/wrappers.proto", "google/protobuf/any.proto"], messages=[
    # model.proto
    _message("ModelSpec", [
        _field("name", 1, _STRING),
        _field("version", 2, _MESSAGE, "google.protobuf.Int64Value", oneof=0),
        _field("version_label", 4, _STRING, oneof=0),
        _field("signature_name", 3, _STRING)], oneofs=["version_choice"]),
    # predict.proto (without predict_streamed_options = 5, client_id = 6, request_options = 7)
    _message("PredictRequest", [
        _field("model_spec", 1, _MESSAGE, "tensorflow.serving.ModelSpec"),
        _map("inputs", 2, "tensorflow.serving.PredictRequest", _MESSAGE, "tensorflow.TensorProto"),
        _field("output_filter", 3, _STRING, repeated=True)]),
    _message("PredictResponse", [
        _field("model_spec", 2, _MESSAGE, "tensorflow.serving.ModelSpec"),
        _map("outputs", 1, "tensorflow.serving.PredictResponse", _MESSAGE, "tensorflow.TensorProto")]),
    # status.proto
    _message("StatusProto", [
        _field("error_code", 1, _ENUM, "tensorflow.error.Code"),
        _field("error_message", 2, _STRING)]),
    # get_model_status.proto
    _message("GetModelStatusRequest", [
        _field("model_spec", 1, _MESSAGE, "tensorflow.serving.ModelSpec")]),
    _message("ModelVersionStatus", [
        _field("version", 1, _INT64),
        _field("state", 2, _ENUM, "tensorflow.serving.ModelVersionStatus.State"),
        _field("status", 3, _MESSAGE, "tensorflow.serving.StatusProto")], enums=[_enum("State", _VERSION_STATES)]),
    _message("GetModelStatusResponse", [
        _field("model_version_status", 1, _MESSAGE, "tensorflow.serving.ModelVersionStatus", repeated=True)]),
    # get_model_metadata.proto
    _message("SignatureDefMap", [
        _map("signature_def", 1, "tensorflow.serving.SignatureDefMap", _MESSAGE, "tensorflow.SignatureDef")]),
    _message("GetModelMetadataRequest", [
        _field("model_spec", 1, _MESSAGE, "tensorflow.serving.ModelSpec"),
        _field("metadata_field", 2, _STRING, repeated=True)]),
    _message("GetModelMetadataResponse", [
        _field("model_spec", 1, _MESSAGE, "tensorflow.serving.ModelSpec"),
        _map("metadata", 2, "tensorflow.serving.GetModelMetadataResponse", _MESSAGE, "google.protobuf.Any")]),
])


def _build_messages():
    """{full name: message class} for every message above, from a pool of their own."""
    pool = descriptor_pool.DescriptorPool()
    for well_known in (wrappers_pb2, any_pb2):
        pool.AddSerializedFile(well_known.DESCRIPTOR.serialized_pb)
    for file_proto in (_TENSORFLOW, _ERRORS, _SERVING):
        pool.AddSerializedFile(file_proto.SerializeToString())
    return message_factory.MessageFactory(pool).GetMessages([_TENSORFLOW.name, _SERVING.name]), pool


_MESSAGES, POOL = _build_messages()

TensorShapeProto = _MESSAGES["tensorflow.TensorShapeProto"]
TensorProto = _MESSAGES["tensorflow.TensorProto"]
TensorInfo = _MESSAGES["tensorflow.TensorInfo"]
SignatureDef = _MESSAGES["tensorflow.SignatureDef"]
ModelSpec = _MESSAGES["tensorflow.serving.ModelSpec"]
PredictRequest = _MESSAGES["tensorflow.serving.PredictRequest"]
PredictResponse = _MESSAGES["tensorflow.serving.PredictResponse"]
StatusProto = _MESSAGES["tensorflow.serving.StatusProto"]
GetModelStatusRequest = _MESSAGES["tensorflow.serving.GetModelStatusRequest"]
ModelVersionStatus = _MESSAGES["tensorflow.serving.ModelVersionStatus"]
GetModelStatusResponse = _MESSAGES["tensorflow.serving.GetModelStatusResponse"]
SignatureDefMap = _MESSAGES["tensorflow.serving.SignatureDefMap"]
GetModelMetadataRequest = _MESSAGES["tensorflow.serving.GetModelMetadataRequest"]
GetModelMetadataResponse = _MESSAGES["tensorflow.serving.GetModelMetadataResponse"]

DataType = EnumTypeWrapper(POOL.FindEnumTypeByName("tensorflow.DataType"))
VersionState = EnumTypeWrapper(ModelVersionStatus.DESCRIPTOR.enum_types_by_name["State"])
