"""Admission: each request is priced and checked against ``ServingLimits`` before anything expands or decodes it.

Three steps, in the order a request meets them:

1. ``Admission.payload(nbytes)``: the request's bytes join the bytes held by all requests, or the
   request answers UNAVAILABLE at once. A gRPC message is priced as parsed (``message_cost.py``)
   before it is parsed; a REST body is priced by the bytes received while it arrives
   (``Admission.receiving``, a budget of its own), then by its size once complete;
2. ``tensor_to_array``: a TensorProto becomes a numpy array only after its dtype and shape are the
   signature's, its batch is within ``max_batch_size`` and its payload carries exactly the elements
   its shape declares (``tf.make_ndarray`` would otherwise expand a 1-element proto that declares
   10^9 elements into gigabytes);
3. ``price_photos`` reads every photo's size from its header; ``Admission.running(pixels)`` then
   waits, first come first served, until the photos fit in ``max_inflight_pixels`` and a graph-run
   slot is free (``max_concurrent_batches``), or answers UNAVAILABLE after ``queue_timeout_seconds``.

Freed heap pages go back to the OS (glibc ``malloc_trim``) whenever the server falls idle after
holding at least ``TRIM_AFTER_BYTES`` of request payloads, and, with ``release_memory``, after
decoding at least ``TRIM_AFTER_PIXELS`` pixels.
"""
import collections
import contextlib
import ctypes
import ctypes.util
import dataclasses
import logging
import threading
import time

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2

from ..schemas import features
from ..schemas import serving_contract as contract
from .errors import ServingError
from .image_headers import HeaderError, read_header
from .limits import batch_too_large_message, request_too_large_message

log = logging.getLogger(__name__)

TRIM_AFTER_PIXELS = 4_000_000
TRIM_AFTER_BYTES = 64 * 1024 * 1024

# The TensorProto field that carries each dtype's values when tensor_content is empty, and how many
# of its entries make one element.
_VALUE_FIELDS = {
    types_pb2.DT_FLOAT: ("float_val", 1), types_pb2.DT_DOUBLE: ("double_val", 1),
    types_pb2.DT_INT32: ("int_val", 1), types_pb2.DT_INT16: ("int_val", 1), types_pb2.DT_INT8: ("int_val", 1),
    types_pb2.DT_UINT8: ("int_val", 1), types_pb2.DT_UINT16: ("int_val", 1), types_pb2.DT_INT64: ("int64_val", 1),
    types_pb2.DT_UINT32: ("uint32_val", 1), types_pb2.DT_UINT64: ("uint64_val", 1),
    types_pb2.DT_BOOL: ("bool_val", 1), types_pb2.DT_HALF: ("half_val", 1), types_pb2.DT_BFLOAT16: ("half_val", 1),
    types_pb2.DT_COMPLEX64: ("scomplex_val", 2), types_pb2.DT_COMPLEX128: ("dcomplex_val", 2),
    types_pb2.DT_STRING: ("string_val", 1),
}


def _invalid(message):
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def _dtype_name(dtype):
    return types_pb2.DataType.Name(dtype) if dtype in types_pb2.DataType.values() else str(dtype)


def _shape_text(dims):
    return "[" + ",".join(str(size) for size in dims) + "]"


def check_shape(name, dims, tensor_info, limits):
    """Raises INVALID_ARGUMENT unless ``dims`` fit the signature's shape and the batch limit."""
    if any(size < 0 for size in dims):
        raise _invalid(f"input {name!r} declares a negative dimension: {_shape_text(dims)}")
    expected = tensor_info.tensor_shape
    if not expected.unknown_rank:
        wanted = [dim.size for dim in expected.dim]
        if len(dims) != len(wanted) or any(want >= 0 and want != size for want, size in zip(wanted, dims)):
            raise _invalid(f"input {name!r} has shape {_shape_text(dims)}; the signature takes "
                           f"{_shape_text(wanted)} (-1: any size)")
    if dims and dims[0] > limits.max_batch_size:
        raise _invalid(batch_too_large_message(dims[0], limits.max_batch_size))


def tensor_to_array(name, proto, tensor_info, limits):
    """A request's TensorProto as a numpy array, after checking it against the signature's ``tensor_info``.

    Nothing is allocated in proportion to the declared shape before the payload is known to
    carry that many elements. Raises ServingError(INVALID_ARGUMENT) naming what is wrong.
    """
    if proto.dtype != tensor_info.dtype:
        raise _invalid(f"input {name!r} is {_dtype_name(proto.dtype)}; the signature takes "
                       f"{_dtype_name(tensor_info.dtype)}")
    if proto.tensor_shape.unknown_rank:
        raise _invalid(f"input {name!r} has no shape (unknown_rank)")
    dims = [dim.size for dim in proto.tensor_shape.dim]
    check_shape(name, dims, tensor_info, limits)
    declared = int(np.prod(dims, dtype=object)) if dims else 1
    field, per_element = _VALUE_FIELDS.get(proto.dtype, (None, 1))
    if field is None:
        raise _invalid(f"input {name!r}: dtype {_dtype_name(proto.dtype)} is not accepted")
    if proto.tensor_content and proto.dtype != types_pb2.DT_STRING:
        itemsize = tf.as_dtype(proto.dtype).size
        carried, remainder = divmod(len(proto.tensor_content), itemsize)
        if remainder:
            raise _invalid(f"input {name!r}: tensor_content of {len(proto.tensor_content)} bytes is not a whole "
                           f"number of {_dtype_name(proto.dtype)} elements")
    else:
        carried = len(getattr(proto, field)) // per_element
    if carried != declared:
        raise _invalid(f"input {name!r} declares shape {_shape_text(dims)} ({declared} elements) but carries "
                       f"{carried}; send every element (shapes are not expanded)")
    if proto.dtype == types_pb2.DT_STRING:
        array = np.empty(declared, dtype=object)
        array[:] = list(proto.string_val)
        return array.reshape(dims)
    return tf.make_ndarray(proto)  # safe: the payload holds exactly the declared elements


@dataclasses.dataclass
class PhotoPrices:
    """What decoding the photos of one input costs: pixels per batch row and per-row refusals."""

    pixels: list  # per row (dimension 0; one entry for a scalar); 0 for what is no photo the graph decodes
    refused: dict  # row -> reason, for a photo over the per-photo limit or with an unreadable header


def _photos_of(name, element):
    """The encoded photos one string element stands for: itself, or the image of a raw tf.Example."""
    if name != contract.EXAMPLES_INPUT:
        return [element]
    try:
        example = tf.train.Example.FromString(element)
    except Exception:  # noqa: BLE001 - not an Example: the signature's parser refuses it, decoding nothing
        return []
    return list(example.features.feature[features.IMAGE].bytes_list.value)


def price_photos(name, array, limits):
    """The PhotoPrices of a string input: every photo's width x height (x frames) from its header.

    ``examples`` inputs (serialized raw tf.Examples) are priced by the photo each one holds.
    """
    row_count = array.shape[0] if array.ndim else 1
    if array.size == 0:
        return PhotoPrices([0] * row_count, {})
    rows = array.reshape(row_count, -1)
    pixels, refused = [], {}
    for row, elements in enumerate(rows):
        cost = 0
        for element in elements:
            for photo in _photos_of(name, element) if isinstance(element, bytes) else []:
                try:
                    header = read_header(photo)
                except HeaderError as error:
                    refused[row] = f"a photo whose size cannot be read from its header: {error}"
                    continue
                if header is None:
                    continue
                if header.pixels > limits.max_image_pixels:
                    refused[row] = (f"a {header.describe()} image ({header.pixels} pixels), over the server's "
                                    f"limit of {limits.max_image_pixels} pixels per photo")
                    continue
                cost += header.pixels
        pixels.append(0 if row in refused else cost)
    return PhotoPrices(pixels, refused)


def check_request_pixels(total, limits):
    if total > limits.max_request_pixels:
        raise ServingError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                           f"the request's photos total {total} pixels, over the server's limit of "
                           f"{limits.max_request_pixels} pixels per request; send fewer photos per request")


def _malloc_trim():
    libc_name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(libc_name) if libc_name else None
    return getattr(libc, "malloc_trim", None)


class Admission:
    """The server-wide budget: payload bytes held, pixels being decoded, graph runs in progress."""

    def __init__(self, limits, release_memory=False):
        self.limits = limits
        self._lock = threading.Condition()
        self._bytes = 0
        self._receiving = 0  # bytes of REST bodies still arriving
        self._closed = False
        self._pixels = 0
        self._runs = 0
        self._queue = collections.deque()  # tickets of requests waiting to run, first come first served
        self._pixels_since_trim = 0
        self._bytes_since_trim = 0
        self._release_memory = release_memory
        self._trim = _malloc_trim()

    def check_request_bytes(self, nbytes):
        if nbytes > self.limits.max_request_bytes:
            raise ServingError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                               request_too_large_message(f"request is {nbytes} bytes", self.limits))

    @contextlib.contextmanager
    def payload(self, nbytes):
        """Holds ``nbytes`` of request payload for the request's lifetime; UNAVAILABLE if there is no room."""
        self.check_request_bytes(nbytes)
        with self._lock:
            if self._bytes + nbytes > self.limits.max_inflight_bytes:
                raise ServingError(grpc.StatusCode.UNAVAILABLE,
                                   f"the server is busy: it holds {self._bytes} bytes of requests (limit "
                                   f"{self.limits.max_inflight_bytes}); retry")
            self._bytes += nbytes
        try:
            yield
        finally:
            with self._lock:
                self._bytes -= nbytes
                self._bytes_since_trim += nbytes
                trim = self._should_trim()
                self._lock.notify_all()
            if trim:
                self._trim(0)

    @contextlib.contextmanager
    def receiving(self):
        """Holds the bytes of a REST body as they arrive; yields ``received(nbytes)``, to call per chunk.

        A separate budget of ``max_inflight_bytes``: a body is priced by the bytes received, not the
        bytes its ``Content-Length`` promises (four slow uploads promising 32 MiB each held the whole
        payload budget and locked every client out, measured), and bodies still arriving never take
        the room of requests being answered (gRPC's included). A body joins the payload budget once
        complete. ``received`` raises UNAVAILABLE when the bytes being received would pass the budget.
        """
        held = 0

        def received(nbytes):
            nonlocal held
            self.check_request_bytes(held + nbytes)
            with self._lock:
                if self._receiving + nbytes > self.limits.max_inflight_bytes:
                    raise ServingError(grpc.StatusCode.UNAVAILABLE,
                                       f"the server is busy: it is receiving {self._receiving} bytes of request "
                                       f"bodies (limit {self.limits.max_inflight_bytes}); retry")
                self._receiving += nbytes
                held += nbytes

        try:
            yield received
        finally:
            with self._lock:
                self._receiving -= held

    @contextlib.contextmanager
    def running(self, pixels):
        """Waits (first come, first served) until ``pixels`` fit and a graph-run slot is free, then holds them."""
        ticket = object()
        deadline = time.monotonic() + self.limits.queue_timeout_seconds
        with self._lock:
            self._queue.append(ticket)
            try:
                while not (self._queue[0] is ticket and self._runs < self.limits.max_concurrent_batches
                           and self._pixels + pixels <= self.limits.max_inflight_pixels):
                    if self._closed:
                        raise ServingError(grpc.StatusCode.UNAVAILABLE, "the server is stopping; retry")
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise ServingError(grpc.StatusCode.UNAVAILABLE,
                                           f"the server is busy: no room to decode {pixels} pixels within "
                                           f"{self.limits.queue_timeout_seconds:g} s ({self._pixels} pixels being "
                                           f"decoded, {len(self._queue) - 1} requests waiting); retry")
                    self._lock.wait(remaining)
            finally:
                self._queue.remove(ticket)
                self._lock.notify_all()
            self._runs += 1
            self._pixels += pixels
        try:
            yield
        finally:
            with self._lock:
                self._runs -= 1
                self._pixels -= pixels
                self._pixels_since_trim += pixels
                trim = self._should_trim()
                self._lock.notify_all()
            if trim:
                self._trim(0)

    def close(self):
        """Requests waiting to run answer UNAVAILABLE at once, and so do later ones (the server stops)."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    def _should_trim(self):
        """Whether to give freed heap back now (under the lock): the server fell idle after enough work.

        Payloads count always (a refused message's parse leaves its pages in glibc's arenas,
        measured: +1.2 GB kept after a 32 MiB one), decoded pixels with ``release_memory``.
        """
        if self._trim is None or self._runs or self._bytes:
            return False
        due = (self._bytes_since_trim >= TRIM_AFTER_BYTES
               or (self._release_memory and self._pixels_since_trim >= TRIM_AFTER_PIXELS))
        if due:
            self._bytes_since_trim = self._pixels_since_trim = 0
        return due
