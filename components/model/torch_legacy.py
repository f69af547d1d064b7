"""Reads a PyTorch state dict saved in PyTorch's legacy (pre-1.6, non-zip) format, without PyTorch.

The format is a run of pickles followed by raw data: a magic number, the protocol version, system
information, the pickled state dict (each tensor a ``torch._utils._rebuild_tensor_v2`` call over a
storage given as a persistent id), the pickled list of storage keys, then for each key an int64
element count and that many little-endian elements.

Unpickling runs whatever globals a pickle names, so a weights file is data only if the unpickler
refuses every global except the few a state dict needs: ``_RestrictedUnpickler.find_class`` admits
the tensor rebuild function, the storage types and ``OrderedDict``, and raises ``UnsafePickleError``
for anything else (``os.system``, ``builtins.eval``, ...). A file from a stranger is refused, not run.
"""
import collections
import io
import pickle
import struct

import numpy as np

_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
                   "LongStorage": np.int64, "IntStorage": np.int32, "ByteStorage": np.uint8}


class UnsafePickleError(pickle.UnpicklingError):
    """A weights file whose pickle names a global outside the state-dict allow-list."""


class _StorageType:
    def __init__(self, name):
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _TensorRef:
    """A tensor before its storage's bytes are read: (storage key, offset, size, stride)."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def _rebuild_tensor(storage, storage_offset, size, stride, *_unused):
    return _TensorRef(storage, storage_offset, size, stride)


class _RestrictedUnpickler(pickle.Unpickler):
    """Admits only what a legacy state dict is made of; every other global is refused."""

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise UnsafePickleError(f"refusing to load {module}.{name}: a weights file may only hold tensors")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r:.80}")
        _, storage_type, key, _location, numel = pid[:5]
        return (str(key), storage_type.dtype, int(numel))


def load_state_dict(path):
    """{name: numpy array} from a legacy PyTorch file; ``UnsafePickleError`` if it names any other global."""
    with open(path, "rb") as stream:
        data = stream.read()
    buffer = io.BytesIO(data)
    if _RestrictedUnpickler(buffer).load() != _MAGIC:
        raise pickle.UnpicklingError(f"{path} is not a legacy PyTorch file (bad magic number)")
    _RestrictedUnpickler(buffer).load()  # protocol version
    _RestrictedUnpickler(buffer).load()  # system information (byte order, type sizes)
    state = _RestrictedUnpickler(buffer).load()
    keys = _RestrictedUnpickler(buffer).load()
    tensors = [ref for ref in state.values() if isinstance(ref, _TensorRef)] if isinstance(state, dict) else []
    if not tensors or len(tensors) != len(state):
        raise pickle.UnpicklingError(f"{path}: a state dict may only hold tensors")
    dtypes = {ref.storage[0]: ref.storage[1] for ref in tensors}
    offsets = {}  # storage key -> where its elements start in ``data``
    for key in map(str, keys):
        count = buffer.read(8)
        if len(count) < 8:
            raise pickle.UnpicklingError(f"{path} is truncated")
        offsets[key] = buffer.tell()
        buffer.seek(struct.unpack("<q", count)[0] * dtypes.get(key, np.dtype(np.uint8)).itemsize, io.SEEK_CUR)
    if buffer.tell() > len(data):
        raise pickle.UnpicklingError(f"{path} is truncated")
    arrays = collections.OrderedDict()
    for name, ref in state.items():
        key, dtype, numel = ref.storage
        flat = np.frombuffer(data, dtype=dtype.newbyteorder("<"), count=numel, offset=offsets[key])
        arrays[name] = np.lib.stride_tricks.as_strided(
            flat[ref.offset:], shape=ref.size, strides=[step * dtype.itemsize for step in ref.stride]).copy()
    return arrays
