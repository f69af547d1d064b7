"""Tensors on the wire without TensorFlow: lists of bytes and numpy arrays <-> ``TensorProto`` (``serving/wire.py``).

What ``tf.make_tensor_proto`` and ``tf.make_ndarray`` do for the data types a client sends and
reads: strings go in ``string_val``, numbers as raw little-endian ``tensor_content`` (what TF
Serving and TensorFlow read fastest), and both readers accept every encoding TensorFlow writes
(``tensor_content``, or the typed ``*_val`` fields with TensorFlow's rule that a short list is
padded with its last value). ``tests/test_client_wire.py`` checks each data type against
TensorFlow's own functions.

numpy is imported only by the two array functions: photos travel as ``string_tensor`` and
``strings``, which need nothing but the message classes, so ``colornet colorize`` never pays
numpy's import time.
"""
from . import wire

# DataType name -> (numpy dtype, the TensorProto field holding values when tensor_content is empty).
_TYPES = {
    "DT_HALF": ("float16", "half_val"), "DT_FLOAT": ("float32", "float_val"), "DT_DOUBLE": ("float64", "double_val"),
    "DT_INT8": ("int8", "int_val"), "DT_INT16": ("int16", "int_val"), "DT_INT32": ("int32", "int_val"),
    "DT_INT64": ("int64", "int64_val"), "DT_UINT8": ("uint8", "int_val"), "DT_UINT16": ("uint16", "int_val"),
    "DT_UINT32": ("uint32", "uint32_val"), "DT_UINT64": ("uint64", "uint64_val"), "DT_BOOL": ("bool", "bool_val"),
    "DT_COMPLEX64": ("complex64", "scomplex_val"), "DT_COMPLEX128": ("complex128", "dcomplex_val"),
}
_BY_NUMPY = {numpy_name: wire.DataType.Value(name) for name, (numpy_name, _) in _TYPES.items()}
DT_STRING = wire.DataType.Value("DT_STRING")


def _shape(proto, dims):
    proto.tensor_shape.SetInParent()  # a scalar's shape is present and empty, as TensorFlow writes it
    for size in dims:
        proto.tensor_shape.dim.add(size=int(size))


def _as_bytes(value):
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise ValueError(f"a string tensor holds bytes or str, not {type(value).__name__} ({value!r:.40})")


def string_tensor(values):
    """A DT_STRING vector of ``values`` (bytes, or str sent as UTF-8): how photos are sent."""
    proto = wire.TensorProto(dtype=DT_STRING, string_val=[_as_bytes(value) for value in values])
    _shape(proto, [len(proto.string_val)])
    return proto


def _element_count(proto):
    count = 1
    for dim in proto.tensor_shape.dim:
        count *= dim.size
    return count


def strings(proto, name="tensor", count=None):
    """The values of a DT_STRING tensor as a flat list of bytes (padded as TensorFlow pads a short list).

    Raises ValueError when ``proto`` is not DT_STRING, or does not declare ``count`` values when
    given (checked before padding, so a shape declaring billions of values costs nothing).
    """
    if proto.dtype != DT_STRING:
        raise ValueError(f"{name} is {_type_name(proto.dtype)}, not DT_STRING")
    declared = _element_count(proto)
    if count is not None and declared != count:
        raise ValueError(f"{name} holds {declared} values, expected {count}")
    values = list(proto.string_val)
    missing = declared - len(values)
    return values + [values[-1] if values else b""] * missing if missing > 0 else values


def typed_field(data_type):
    """The TensorProto field holding a ``data_type`` tensor's values without ``tensor_content`` ("float_val"
    for DT_FLOAT, "string_val" for DT_STRING): where TF Serving's Predict writes them (``service.py``)."""
    name = _type_name(data_type)
    if data_type == DT_STRING:
        return "string_val"
    if name not in _TYPES:
        raise ValueError(f"no value field for {name} (supported: {sorted(_TYPES)} and DT_STRING)")
    return _TYPES[name][1]


def _type_name(number):
    return wire.DataType.Name(number) if number in wire.DataType.values() else f"data type {number}"


def to_tensor_proto(value):
    """Anything ``numpy.asarray`` takes -> TensorProto (strings and bytes as DT_STRING)."""
    import numpy as np

    array = np.asarray(value)
    if array.dtype.kind in "SUO":
        proto = wire.TensorProto(dtype=DT_STRING, string_val=[_as_bytes(item) for item in array.reshape(-1)])
    else:
        data_type = _BY_NUMPY.get(array.dtype.name)
        if data_type is None:
            raise ValueError(f"numpy {array.dtype} has no TensorFlow data type here "
                             f"(supported: {sorted(_BY_NUMPY)} and strings)")
        proto = wire.TensorProto(dtype=data_type,
                                 tensor_content=np.ascontiguousarray(array, array.dtype.newbyteorder("<")).tobytes())
    _shape(proto, array.shape)
    return proto


def to_ndarray(proto):
    """TensorProto -> numpy array (DT_STRING as an object array of bytes)."""
    import numpy as np

    shape = [dim.size for dim in proto.tensor_shape.dim]
    if proto.dtype == DT_STRING:
        return np.array(strings(proto), dtype=object).reshape(shape)
    name = _type_name(proto.dtype)
    if name not in _TYPES:
        raise ValueError(f"cannot read a {name} tensor (supported: {sorted(_TYPES)} and DT_STRING)")
    dtype_name, field = _TYPES[name]
    dtype = np.dtype(dtype_name).newbyteorder("<")
    if proto.tensor_content:
        return np.frombuffer(proto.tensor_content, dtype=dtype).astype(dtype_name).reshape(shape)
    values = getattr(proto, field)
    if field == "half_val":
        flat = np.array(values, dtype=np.uint16).view(np.float16)
    elif dtype.kind == "c":  # (real, imaginary) pairs
        pairs = np.array(values, dtype=np.float64)
        flat = pairs[0::2] + 1j * pairs[1::2]
    else:
        flat = np.array(values, dtype=dtype_name)
    count = int(np.prod(shape, dtype=np.int64))
    if flat.size == 0:
        return np.zeros(shape, dtype_name)
    if flat.size < count:
        flat = np.concatenate([flat, np.full(count - flat.size, flat[-1])])
    return flat.astype(dtype_name).reshape(shape)
