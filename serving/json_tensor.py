"""TF Serving's JSON mapping of tensors (``tensorflow_serving/util/json_tensor.cc``) for the REST API.

Requests (``parse_predict_request``):

* the body is one JSON object with optional ``signature_name`` (a string) and exactly one of
  ``instances`` (row format: a non-empty list, one entry per batch row; plain values for a
  one-input signature, objects naming every input otherwise) or ``inputs`` (columnar: the
  tensor itself for a one-input signature, else an object of named tensors);
* a DT_STRING value is a JSON string (its UTF-8 bytes) or ``{"b64": "<standard base64>"}``;
  numbers must suit the dtype (integers for integer dtypes), ``NaN``/``Infinity`` are accepted;
* nesting must be dense and as deep as the signature's rank, checked before anything is built.

Responses (``predict_response_json``): row format answers ``{"predictions": [...]}`` (per row the
value, or an object of every output when there are several), columnar ``{"outputs": ...}``. A
string output is ``{"b64": ...}`` only when its name ends in ``_bytes``; any other string output
is written as text, so it must be UTF-8 (TF Serving writes the raw bytes, which makes invalid
JSON; here that is an error naming the ``_bytes`` rule). Floats are written as TF Serving does:
six significant digits when they round-trip, else nine, ``.0`` on whole numbers, ``NaN``,
``Infinity``. Every error is INVALID_ARGUMENT with TF Serving's wording where it has one.
"""
import base64
import binascii
import json
import json.decoder
import json.scanner

import grpc
import numpy as np
from tensorflow.core.framework import types_pb2

from .errors import ServingError

ROW, COLUMNAR = "row", "columnar"
_BYTES_SUFFIX = "_bytes"
_UNKNOWN_RANK_DEPTH = 32  # deepest nesting accepted for an input whose signature rank is unknown
VALUES_PER_PHOTO = 64  # JSON values a body may hold per photo of the batch limit (parse_json_object)
_INT_DTYPES = {types_pb2.DT_INT8, types_pb2.DT_INT16, types_pb2.DT_INT32, types_pb2.DT_INT64, types_pb2.DT_UINT8,
               types_pb2.DT_UINT16, types_pb2.DT_UINT32, types_pb2.DT_UINT64}
_FLOAT_DTYPES = {types_pb2.DT_HALF, types_pb2.DT_BFLOAT16, types_pb2.DT_FLOAT, types_pb2.DT_DOUBLE}


def _invalid(message):
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def _debug(value, limit=120):
    text = json.dumps(value)
    return text if len(text) <= limit else text[:limit] + "..."


class _TooManyValues(Exception):
    pass


def _counting_decoder(max_values):
    """A JSONDecoder that raises _TooManyValues at the ``max_values + 1``-th array element or object member.

    It runs the pure-Python scanner (strings still go through the C ``scanstring``), so that the
    count happens while the document is built, not after it took its memory.
    """
    decoder = json.JSONDecoder()
    count = 0

    def counting(scan_once):
        def scan(string, index):
            nonlocal count
            count += 1
            if count > max_values:
                raise _TooManyValues
            return scan_once(string, index)

        return scan

    decoder.parse_array = lambda string_and_end, scan_once: json.decoder.JSONArray(string_and_end, counting(scan_once))
    decoder.parse_object = lambda string_and_end, strict, scan_once, *hooks: json.decoder.JSONObject(
        string_and_end, strict, counting(scan_once), *hooks)
    decoder.scan_once = json.scanner.py_make_scanner(decoder)
    return decoder


def parse_json_object(body, max_batch_size):
    """The request body as a dict; INVALID_ARGUMENT "JSON Parse error: ..." otherwise.

    A body may hold at most ``VALUES_PER_PHOTO`` x ``max_batch_size`` JSON values (array elements and
    object members): 32 MiB of ``""`` rows took 2.9 GB and 57 CPU-seconds before their batch size was
    refused (measured). Most bodies are parsed at C speed: the count of separators and brackets bounds
    their values; only a body where it passes the budget is parsed counting, and stops there.
    """
    if not body:
        raise _invalid("JSON Parse error: The document is empty")
    max_values = VALUES_PER_PHOTO * max_batch_size
    try:
        if sum(body.count(separator) for separator in (b",", b":", b"[", b"{")) < max_values:
            document = json.loads(body)
        else:
            document = _counting_decoder(max_values).decode(body.decode("utf-8"))
    except _TooManyValues:
        raise _invalid(f"JSON body holds more than {max_values} values (at most {VALUES_PER_PHOTO} per photo, "
                       f"{max_batch_size} photos per request)") from None
    except RecursionError:
        raise _invalid("JSON Parse error: the document is nested too deeply") from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, integers over Python's digit limit
        raise _invalid(f"JSON Parse error: {error}") from None
    if not isinstance(document, dict):
        raise _invalid(f"JSON Value: {_debug(document)} Is not object")
    return document


def _is_b64(value):
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def _decode_b64(value):
    if not _is_b64(value):
        raise _invalid(f"JSON Value: {_debug(value)} not formatted correctly for base64 data")
    try:
        return base64.b64decode(value["b64"], validate=True)
    except (binascii.Error, ValueError) as error:
        raise _invalid(f"Unable to base64 decode: {error}") from None


def _element(value, dtype):
    """One JSON leaf as the Python value of a ``dtype`` element."""
    if dtype == types_pb2.DT_STRING:
        if isinstance(value, str):
            try:
                return value.encode()
            except UnicodeEncodeError:  # a lone surrogate escape ("\\ud800"): TF Serving's parser refuses it
                raise _invalid("JSON Parse error: The surrogate pair in string is invalid.") from None
        if isinstance(value, dict):
            return _decode_b64(value)
    elif dtype == types_pb2.DT_BOOL:
        if isinstance(value, bool):
            return value
    elif dtype in _INT_DTYPES:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif dtype in _FLOAT_DTYPES:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
    else:
        raise ServingError(grpc.StatusCode.UNIMPLEMENTED,
                           f"Conversion of JSON Value: {_debug(value)} to type: {types_pb2.DataType.Name(dtype)}")
    raise _invalid(f"JSON Value: {_debug(value)} Type: {type(value).__name__} is not of expected type: "
                   f"{types_pb2.DataType.Name(dtype)}")


def _dense_shape(value):
    """The shape nested lists claim, following first elements (TF Serving's GetDenseTensorShape), iteratively."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _tensor(name, value, tensor_info, leading=()):
    """A JSON (nested) value as a numpy array of ``tensor_info``'s dtype; ``leading`` dims come from the caller."""
    dtype = tensor_info.dtype
    rank = None if tensor_info.tensor_shape.unknown_rank else len(tensor_info.tensor_shape.dim) - len(leading)
    shape = _dense_shape(value)
    if len(shape) > (_UNKNOWN_RANK_DEPTH if rank is None else max(rank, 0)):
        raise _invalid(f"input {name!r}: a list nested {len(shape)} deep, deeper than the input's rank "
                       f"{rank if rank is not None else 'limit ' + str(_UNKNOWN_RANK_DEPTH)}")
    flat = []

    def fill(item, level):
        if level == len(shape):
            if isinstance(item, list):
                raise _invalid(f"Encountered list at unexpected level: {level} expected < {len(shape)}")
            flat.append(_element(item, dtype))
            return
        if not isinstance(item, list):
            raise _invalid(f"JSON Value: {_debug(item)} found at incorrect level: {level + 1} in the JSON DOM. "
                           f"Expected at level: {len(shape)}")
        if len(item) != shape[level]:
            raise _invalid(f"Encountered list at unexpected size: {len(item)} at level: {level} "
                           f"expected size: {shape[level]}")
        for child in item:
            fill(child, level + 1)

    fill(value, 0)
    numpy_dtype = object if dtype == types_pb2.DT_STRING else _numpy_dtype(dtype)
    array = np.empty(len(flat), dtype=numpy_dtype)
    try:
        array[:] = flat
    except (OverflowError, ValueError) as error:
        raise _invalid(f"input {name!r}: {error}") from None
    return array.reshape(shape)


def _numpy_dtype(dtype):
    import tensorflow as tf  # the dtype table; TensorFlow is loaded in the server already

    return tf.as_dtype(dtype).as_numpy_dtype


def parse_predict_request(document, input_infos):
    """(format, name -> numpy array) from a predict body, typed by the signature's ``input_infos``."""
    names = sorted(input_infos)
    has_instances, has_inputs = "instances" in document, "inputs" in document
    if has_instances and has_inputs:
        raise _invalid(f"JSON Value: {_debug(document)} Not formatted correctly expecting only one of 'inputs' or "
                       f"'instances' keys to exist")
    if has_inputs:
        inputs = document["inputs"]
        if not isinstance(inputs, dict) or _is_b64(inputs):
            if len(names) > 1:
                raise _invalid("inputs is a plain value/list, but expecting an object as multiple input tensors "
                               "required as per tensorinfo_map")
            return COLUMNAR, {names[0]: _tensor(names[0], inputs, input_infos[names[0]])}
        arrays = {}
        for name in names:
            if name not in inputs:
                raise _invalid(f"Missing named input: {name} in 'inputs' object.")
            arrays[name] = _tensor(name, inputs[name], input_infos[name])
        return COLUMNAR, arrays
    if not has_instances:
        raise _invalid("Missing 'inputs' or 'instances' key")
    rows = document["instances"]
    if not isinstance(rows, list):
        raise _invalid(f"JSON Value: {_debug(document)} Expecting 'instances' to be an list/array")
    if not rows:
        raise _invalid(f"JSON Value: {_debug(document)} No values in 'instances' array")
    named = isinstance(rows[0], dict) and not _is_b64(rows[0])
    if not named and len(names) > 1:
        raise _invalid("instances is a plain list, but expecting list of objects as multiple input tensors "
                       "required as per tensorinfo_map")
    columns = {name: [] for name in names}
    for index, row in enumerate(rows):
        if named:
            if not isinstance(row, dict) or _is_b64(row):
                raise _invalid(f"Expecting object but got list at item {index} of input list")
            if set(row) != set(names):
                raise _invalid(f"Failed to process element: {index} of 'instances' list. JSON object: {_debug(row)} "
                               f"keys must be equal to: {','.join(names)}")
            for name in names:
                columns[name].append(row[name])
        else:
            if isinstance(row, dict) and not _is_b64(row):
                raise _invalid(f"Expecting value/list but got object at item {index} of input list")
            columns[names[0]].append(row)
    return ROW, {name: _rows_tensor(name, values, input_infos[name]) for name, values in columns.items()}


def _rows_tensor(name, rows, tensor_info):
    """The batch tensor of one input from its per-row JSON values (each must have the same shape)."""
    first = _dense_shape(rows[0])
    parts = []
    for index, row in enumerate(rows):
        part = _tensor(name, row, tensor_info, leading=(len(rows),))
        if list(part.shape) != first:
            raise _invalid(f"Failed to process element: {index} of 'instances' list. Error: Expecting shape "
                           f"{first} but got: {list(part.shape)}")
        parts.append(part)
    array = np.empty((len(rows), *first), dtype=parts[0].dtype)
    for index, part in enumerate(parts):
        array[index] = part if part.ndim else part[()]
    return array


def _float_texts(array):
    """Each float as TF Serving writes it: %g when it round-trips, else 9 (17 for doubles) digits; '.0' on whole."""
    digits = 17 if array.dtype == np.float64 else 9
    six = np.char.mod("%g", array)
    round_trips = (six.astype(array.dtype) == array) | np.isnan(array)
    texts = np.where(round_trips, six, np.char.mod(f"%.{digits}g", array))
    whole = np.isfinite(array) & (np.char.find(texts, ".") < 0) & (np.char.find(texts, "e") < 0)
    texts = np.where(whole, np.char.add(texts, ".0"), texts)
    texts = np.where(np.isnan(array), "NaN", texts)
    return np.where(np.isinf(array), np.where(array > 0, "Infinity", "-Infinity"), texts)


def _element_texts(name, array):
    """Every element of an output as JSON text, same shape."""
    if array.dtype == object:
        def text(value):
            if name.endswith(_BYTES_SUFFIX):
                return '{"b64": "' + base64.b64encode(value).decode("ascii") + '"}'
            try:
                return json.dumps(value.decode("utf-8"))
            except UnicodeDecodeError:
                raise ServingError(grpc.StatusCode.INTERNAL,
                                   f"output {name!r} holds bytes that are not UTF-8 text: TF Serving writes such "
                                   f"bytes raw into the JSON (invalid JSON); name the output '..._bytes' to get "
                                   f"base64") from None

        return np.vectorize(text, otypes=[object])(array) if array.size else array
    if array.dtype.kind == "f":
        return _float_texts(array)
    if array.dtype.kind == "b":
        return np.where(array, "true", "false")
    return array.astype(str)


def _nested(texts):
    """JSON text of an array of element texts (a scalar is its element)."""
    texts = np.asarray(texts)
    if texts.ndim == 0:
        return str(texts[()])
    if texts.ndim == 1:
        return "[" + ", ".join(texts.tolist()) + "]"
    return "[" + ", ".join(_nested(part) for part in texts) + "]"


def predict_response_json(outputs, request_format):
    """The predict reply's JSON text for ``outputs`` (name -> numpy array), as TF Serving writes it."""
    if not outputs:
        raise _invalid("Cannot convert empty tensor map to JSON")
    names = sorted(outputs)
    texts = {name: _element_texts(name, outputs[name]) for name in names}
    if request_format == COLUMNAR:
        if len(names) == 1:
            return '{"outputs": ' + _nested(texts[names[0]]) + "}"
        return '{"outputs": {' + ", ".join(f"{json.dumps(name)}: {_nested(texts[name])}" for name in names) + "}}"
    batch = None
    for name in names:
        if texts[name].ndim == 0:
            raise _invalid(f"Tensor name: {name} has no shape information ")
        if batch is not None and texts[name].shape[0] != batch:
            raise _invalid(f"Tensor name: {name} has inconsistent batch size: {texts[name].shape[0]} "
                           f"expecting: {batch}")
        batch = texts[name].shape[0]
    if len(names) == 1:
        rows = [_nested(row) for row in texts[names[0]]]
    else:
        rows = ["{" + ", ".join(f"{json.dumps(name)}: {_nested(texts[name][row])}" for name in names) + "}"
                for row in range(batch)]
    return '{"predictions": [' + ", ".join(rows) + "]}"
