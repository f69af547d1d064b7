"""The client's own TF Serving messages (``serving/wire.py``) and tensor codec (``serving/tensors.py``) against
``tensorflow_serving.apis`` and TensorFlow themselves: same field numbers and types, same bytes both ways."""
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, model_pb2, predict_pb2, status_pb2

from colornet.serving import tensors, wire

# Each message the client declares, beside TF Serving's (or TensorFlow's) generated class.
PAIRS = {
    "TensorShapeProto": (wire.TensorShapeProto, tensor_shape_pb2.TensorShapeProto),
    "TensorProto": (wire.TensorProto, tensor_pb2.TensorProto),
    "TensorInfo": (wire.TensorInfo, meta_graph_pb2.TensorInfo),
    "SignatureDef": (wire.SignatureDef, meta_graph_pb2.SignatureDef),
    "ModelSpec": (wire.ModelSpec, model_pb2.ModelSpec),
    "PredictRequest": (wire.PredictRequest, predict_pb2.PredictRequest),
    "PredictResponse": (wire.PredictResponse, predict_pb2.PredictResponse),
    "StatusProto": (wire.StatusProto, status_pb2.StatusProto),
    "GetModelStatusRequest": (wire.GetModelStatusRequest, get_model_status_pb2.GetModelStatusRequest),
    "ModelVersionStatus": (wire.ModelVersionStatus, get_model_status_pb2.ModelVersionStatus),
    "GetModelStatusResponse": (wire.GetModelStatusResponse, get_model_status_pb2.GetModelStatusResponse),
    "SignatureDefMap": (wire.SignatureDefMap, get_model_metadata_pb2.SignatureDefMap),
    "GetModelMetadataRequest": (wire.GetModelMetadataRequest, get_model_metadata_pb2.GetModelMetadataRequest),
    "GetModelMetadataResponse": (wire.GetModelMetadataResponse, get_model_metadata_pb2.GetModelMetadataResponse),
}
# Fields wire.py leaves out on purpose (its docstring says why); anything else missing is a bug.
# (request_options is newer than the installed tensorflow-serving-api 2.16.1.)
LEFT_OUT = {
    "tensorflow.TensorProto": {"resource_handle_val", "variant_val"},
    "tensorflow.TensorInfo": {"coo_sparse", "composite_tensor"},
    "tensorflow.serving.PredictRequest": {"predict_streamed_options", "client_id", "request_options"},
}


def _type_name(field):
    kind = field.message_type or field.enum_type
    return kind.full_name if kind else None


def _compare(mine, real, seen):
    """Asserts that every field of ``mine`` is the same field in ``real`` (recursively through message and
    enum types), and that only LEFT_OUT fields are missing."""
    assert mine.full_name == real.full_name
    if mine.full_name in seen:
        return
    seen.add(mine.full_name)
    assert set(real.fields_by_name) - set(mine.fields_by_name) <= LEFT_OUT.get(mine.full_name, set())
    for name, field in mine.fields_by_name.items():
        other = real.fields_by_name[name]
        assert (field.number, field.type, field.label, _type_name(field)) == \
               (other.number, other.type, other.label, _type_name(other)), f"{mine.full_name}.{name}"
        assert (field.containing_oneof and field.containing_oneof.name) == \
               (other.containing_oneof and other.containing_oneof.name), f"{mine.full_name}.{name}"
        if field.message_type:
            assert field.message_type.GetOptions().map_entry == other.message_type.GetOptions().map_entry
            _compare(field.message_type, other.message_type, seen)
        if field.enum_type:
            values = {value.name: value.number for value in field.enum_type.values}
            real_values = {value.name: value.number for value in other.enum_type.values}
            assert values.items() <= real_values.items(), field.enum_type.full_name


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_every_declared_field_matches_tf_serving(name):
    mine, real = PAIRS[name]
    _compare(mine.DESCRIPTOR, real.DESCRIPTOR, set())


# One filled-in instance of each message, as text. Parsed into both classes, they must serialize to the
# same bytes and parse each other's bytes back to equal messages.
SIGNATURES = """signature_def { key: "serving_default" value {
      inputs { key: "images" value { name: "serving_default_images:0" dtype: DT_STRING
                                      tensor_shape { dim { size: -1 } } } }
      outputs { key: "colorized" value { name: "StatefulPartitionedCall:0" dtype: DT_STRING
                                          tensor_shape { dim { size: -1 } } } }
      method_name: "tensorflow/serving/predict"
      defaults { key: "strength" value { dtype: DT_FLOAT tensor_shape {} float_val: 0.5 } } } }
    signature_def { key: "colorize_ab" value { method_name: "tensorflow/serving/predict" } }"""
# Inside an Any, text_format packs maps in no fixed order: one signature, so the bytes are comparable.
ONE_SIGNATURE = SIGNATURES.rsplit("signature_def", 1)[0]
EXAMPLES = {
    "TensorShapeProto": 'dim { size: 2 name: "batch" } dim { size: -1 } unknown_rank: false',
    "TensorProto": 'dtype: DT_STRING tensor_shape { dim { size: 3 } } string_val: "a" string_val: "" '
                   'string_val: "\\377\\330\\377\\000binary"',
    "TensorInfo": 'name: "x:0" dtype: DT_FLOAT tensor_shape { dim { size: -1 } dim { size: 8 } }',
    "SignatureDef": SIGNATURES.split("value {", 1)[1].rsplit("} }", 2)[0],
    "ModelSpec": 'name: "colornet" version { value: 1764000000 } signature_name: "serving_default"',
    "PredictRequest": 'model_spec { name: "colornet" version_label: "stable" signature_name: "serving_default" } '
                      'inputs { key: "images" value { dtype: DT_STRING tensor_shape { dim { size: 2 } } '
                      'string_val: "\\211PNG" string_val: "\\377\\330\\377" } } '
                      'inputs { key: "strength" value { dtype: DT_FLOAT tensor_shape { dim { size: 2 } } '
                      'tensor_content: "\\000\\000\\200?\\000\\000\\000@" } } output_filter: "colorized"',
    "PredictResponse": 'model_spec { name: "colornet" version { value: 3 } signature_name: "serving_default" } '
                       'outputs { key: "colorized" value { dtype: DT_STRING tensor_shape { dim { size: 1 } } '
                       'string_val: "\\211PNG\\r\\n\\032\\n" } } '
                       'outputs { key: "errors" value { dtype: DT_STRING tensor_shape { dim { size: 1 } } '
                       'string_val: "" } }',
    "StatusProto": 'error_code: NOT_FOUND error_message: "no saved_model.pb"',
    "GetModelStatusRequest": 'model_spec { name: "colornet" version { value: 2 } }',
    "ModelVersionStatus": 'version: 2 state: LOADING status { error_code: OK }',
    "GetModelStatusResponse": 'model_version_status { version: 2 state: AVAILABLE status { } } '
                              'model_version_status { version: 1 state: END '
                              'status { error_code: UNKNOWN error_message: "load failed" } }',
    "SignatureDefMap": SIGNATURES,
    "GetModelMetadataRequest": 'model_spec { name: "colornet" version_label: "canary" } '
                               'metadata_field: "signature_def"',
    "GetModelMetadataResponse": 'model_spec { name: "colornet" version { value: 2 } } metadata { key: "signature_def" '
                                'value { [type.googleapis.com/tensorflow.serving.SignatureDefMap] { '
                                + ONE_SIGNATURE + ' } } }',
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_messages_have_the_same_bytes_both_ways(name):
    mine_class, real_class = PAIRS[name]
    mine = text_format.Parse(EXAMPLES[name], mine_class(), descriptor_pool=wire.POOL)
    real = text_format.Parse(EXAMPLES[name], real_class())
    mine_bytes, real_bytes = mine.SerializeToString(deterministic=True), real.SerializeToString(deterministic=True)
    assert mine_bytes and mine_bytes == real_bytes
    assert real_class.FromString(mine_bytes) == real
    assert mine_class.FromString(real_bytes) == mine


def test_fields_the_client_leaves_out_survive_a_pass_through_it():
    real = text_format.Parse(EXAMPLES["PredictRequest"], predict_pb2.PredictRequest())
    real.predict_streamed_options.split_dimensions["images"] = 0
    real.client_id = b"client-7"
    passed = wire.PredictRequest.FromString(real.SerializeToString())
    assert predict_pb2.PredictRequest.FromString(passed.SerializeToString()) == real


def test_signature_metadata_unpacks_from_tf_servings_any():
    real = text_format.Parse(EXAMPLES["GetModelMetadataResponse"], get_model_metadata_pb2.GetModelMetadataResponse())
    response = wire.GetModelMetadataResponse.FromString(real.SerializeToString())
    signatures = wire.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signatures)
    default = signatures.signature_def["serving_default"]
    assert list(default.inputs) == ["images"] and default.outputs["colorized"].name == "StatefulPartitionedCall:0"
    assert default.defaults["strength"].float_val == [0.5]


STRING_ARRAYS = [
    np.array([b"\xff\xd8\xffjpeg", b"", b"\x89PNG\r\n\x1a\n\x00"], dtype=object),  # [3], with an empty value
    np.array([[b"a", b"bb"], [b"ccc", b"\x00"]], dtype=object),                       # [2, 2]
    np.array(b"scalar", dtype=object),                                               # []
    np.zeros([0], dtype=object),                                                      # [0]
    np.array([[[b"x"], [b"y"], [b"z"]]], dtype=object),                               # [1, 3, 1]
]


@pytest.mark.parametrize("array", STRING_ARRAYS, ids=lambda array: str(list(array.shape)))
def test_string_tensors_match_tensorflow_both_ways(array):
    expected = tf.make_tensor_proto(array, dtype=tf.string)
    mine = tensors.to_tensor_proto(array)
    assert tensor_pb2.TensorProto.FromString(mine.SerializeToString()) == expected
    back = tensors.to_ndarray(wire.TensorProto.FromString(expected.SerializeToString()))
    assert back.shape == array.shape and back.tolist() == array.tolist()
    if array.ndim == 1:
        vector = tensors.string_tensor(list(array))
        assert tensor_pb2.TensorProto.FromString(vector.SerializeToString()) == expected
        assert tensors.strings(wire.TensorProto.FromString(expected.SerializeToString())) == list(array)


def test_str_values_are_sent_as_utf8_like_tensorflow():
    expected = tf.make_tensor_proto(["grå", "photo"])
    assert tensor_pb2.TensorProto.FromString(tensors.string_tensor(["grå", "photo"]).SerializeToString()) == expected


def test_short_string_lists_are_padded_as_tensorflow_pads_them():
    proto = text_format.Parse('dtype: DT_STRING tensor_shape { dim { size: 3 } } string_val: "only"',
                              tensor_pb2.TensorProto())
    mine = wire.TensorProto.FromString(proto.SerializeToString())
    assert tensors.strings(mine) == [b"only"] * 3 == list(tf.make_ndarray(proto))


NUMERIC = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "bool", "complex64", "complex128"]


@pytest.mark.parametrize("dtype", NUMERIC)
def test_numeric_tensors_match_tensorflow_both_ways(dtype):
    array = (np.arange(24).reshape(2, 3, 4) % 7 * 1.5).astype(dtype)
    mine = tensors.to_tensor_proto(array)
    np.testing.assert_array_equal(tf.make_ndarray(tensor_pb2.TensorProto.FromString(mine.SerializeToString())), array)
    expected = tf.make_tensor_proto(array)
    back = tensors.to_ndarray(wire.TensorProto.FromString(expected.SerializeToString()))
    assert back.dtype == array.dtype
    np.testing.assert_array_equal(back, array)
    # TensorFlow writes a repeated value as one typed value (float_val, int_val, half_val, ...) and a shape.
    filled = tf.make_tensor_proto(array.reshape(-1)[5], dtype=tf.as_dtype(array.dtype), shape=[2, 2])
    assert not filled.tensor_content
    np.testing.assert_array_equal(tensors.to_ndarray(wire.TensorProto.FromString(filled.SerializeToString())),
                                  tf.make_ndarray(filled))


def test_string_outputs_must_declare_one_value_per_photo():
    huge = text_format.Parse('dtype: DT_STRING tensor_shape { dim { size: 1000000000000 } } string_val: "x"',
                             wire.TensorProto())
    with pytest.raises(ValueError, match="holds 1000000000000 values, expected 2"):
        tensors.strings(huge, count=2)


def test_unsupported_types_are_clear_errors():
    with pytest.raises(ValueError, match="not int"):
        tensors.to_tensor_proto(np.array([b"photo", 7], dtype=object))
    with pytest.raises(ValueError, match="datetime64"):
        tensors.to_tensor_proto(np.array(["2024-01-01"], dtype="datetime64[D]"))
    resource = wire.TensorProto(dtype=20)  # DT_RESOURCE
    with pytest.raises(ValueError, match="data type 20"):
        tensors.to_ndarray(resource)
    with pytest.raises(ValueError, match="DT_FLOAT, not DT_STRING"):
        tensors.strings(wire.TensorProto(dtype=wire.DataType.Value("DT_FLOAT")))


def test_the_client_messages_live_in_a_private_pool():
    # TensorFlow's classes are loaded in this process: both sets coexist, and they are distinct.
    assert wire.PredictRequest is not predict_pb2.PredictRequest
    assert wire.PredictRequest.DESCRIPTOR.full_name == predict_pb2.PredictRequest.DESCRIPTOR.full_name
    # A process with only the client registers nothing in protobuf's default pool.
    probe = ("from google.protobuf import descriptor_pool\n"
             "import colornet.serving.client\n"
             "try:\n"
             "    descriptor_pool.Default().FindMessageTypeByName('tensorflow.serving.PredictRequest')\n"
             "    print('registered')\n"
             "except KeyError:\n"
             "    print('private')\n")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          timeout=120).stdout.strip() == "private"
