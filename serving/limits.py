"""What the embedded server lets one request (and all requests together) cost, TensorFlow-free.

A server that listens for photos is sent anything, so every request is measured against
``ServingLimits`` *before* anything is expanded or decoded (``serving/admission.py``):

* bytes: a gRPC message (priced as parsed, ``message_cost.py``) or REST body over
  ``max_request_bytes`` is refused; the payloads held at once (waiting or running) are capped by
  ``max_inflight_bytes``, and so are the bytes received of REST bodies still arriving;
* tensors: the element count a TensorProto declares must be what its payload carries, the
  dtype must be the signature's, and the batch (dimension 0) at most ``max_batch_size``;
* pixels: every photo's decoded width x height (and GIF frames) is read from its header; one photo may
  have ``max_image_pixels``, one request ``max_request_pixels``, and the photos being decoded
  at once across all requests ``max_inflight_pixels`` (a request waits up to
  ``queue_timeout_seconds`` for room, then gets UNAVAILABLE, which clients retry);
* graph runs: a request runs in slices of ``max_execution_batch_size`` photos, at most
  ``max_concurrent_batches`` slices at once (TF Serving's ``max_execution_batch_size`` and
  ``num_batch_threads``).

Decoding and colorizing cost about ``BYTES_PER_PIXEL`` bytes per input pixel (measured on
colornet's ``serving_default``: decode, Lab, full-resolution ab, PNG), so the server's memory is
bounded by ``memory_bound_bytes`` (see its docstring); the README states the figures.

The transport limits (worker threads, concurrent RPCs, REST connections, timeouts, backlog) live
here too: ``colornet serve`` builds one flag per field (``serve_flags``).
"""
import dataclasses
import re

from .defaults import DEFAULT_MAX_MESSAGE_BYTES

MiB = 1024 * 1024
# Peak bytes per input pixel of colornet's serving_default (decode, Lab, ab stretched back to
# full resolution, PNG), measured on 4-16 megapixel photos: 46-70 B/px; this is the upper figure.
BYTES_PER_PIXEL = 70

# TF Serving's wording for a request larger than the batch limit (tensorflow/core/kernels/
# batching_util: ``Queue::ValidateBatchTaskQueueCapacity``), INVALID_ARGUMENT on both servers,
# so one client parses the limit from either. The older streaming_batch_scheduler.h says
# "maximum batch size": the pattern takes both.
_BATCH_TOO_LARGE = "Task size {size} is larger than maximum input batch size {limit}"
_BATCH_TOO_LARGE_PATTERN = re.compile(r"Task size (\d+) is larger than maximum (?:input )?batch size (\d+)")


def batch_too_large_message(size, limit):
    """The error text for a request of ``size`` elements when ``limit`` is the most a request may have."""
    return _BATCH_TOO_LARGE.format(size=size, limit=limit)


def batch_limit_from_message(message):
    """The batch limit named in a server's error text (ours or TF Serving's), or None."""
    match = _BATCH_TOO_LARGE_PATTERN.search(message or "")
    return int(match[2]) if match else None


def request_too_large_message(what, limits):
    """The error text for a request over ``max_request_bytes``: ``what`` says how large it is."""
    return f"{what}, over the server's limit of {limits.max_request_bytes} bytes per request"


def _limit(default, help):
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass(frozen=True)
class ServingLimits:
    """Every limit of the embedded server; ``memory_bound_bytes`` is the memory they allow (README: figures)."""

    max_request_bytes: int = _limit(32 * MiB, "largest gRPC request message or REST body, in bytes")
    max_inflight_bytes: int = _limit(128 * MiB, "request payload bytes held at once by all requests; "
                                                "beyond it requests answer UNAVAILABLE (retry)")
    max_batch_size: int = _limit(32, "most elements (photos) in one request, as TF Serving's batching "
                                     "max_batch_size; more is INVALID_ARGUMENT 'Task size N is larger "
                                     "than maximum input batch size M'")
    max_execution_batch_size: int = _limit(8, "photos per graph run: larger requests run in slices of this "
                                              "size (TF Serving's max_execution_batch_size)")
    max_concurrent_batches: int = _limit(2, "graph runs at once across all requests (TF Serving's "
                                            "num_batch_threads)")
    max_image_pixels: int = _limit(24_000_000, "largest photo, width x height read from its header "
                                               "(x frames for GIF), e.g. 6000x4000")
    max_request_pixels: int = _limit(32_000_000, "total pixels of the photos of one request")
    max_inflight_pixels: int = _limit(32_000_000, "total pixels being decoded at once by all requests; a "
                                                  "request waits for room")
    queue_timeout_seconds: float = _limit(30.0, "how long a request waits for pixel or graph-run room "
                                                "before it answers UNAVAILABLE")
    workers: int = _limit(8, "threads that convert, check and run requests (both protocols)")
    max_concurrent_rpcs: int = _limit(32, "gRPC calls in progress at once; more answer RESOURCE_EXHAUSTED")
    max_message_bytes: int = _limit(DEFAULT_MAX_MESSAGE_BYTES, "largest gRPC response message, in bytes "
                                                               "(gRPC's own default is 4 MB)")
    rest_max_connections: int = _limit(256, "open REST connections at once; more get 503 and are closed")
    read_timeout_seconds: float = _limit(30.0, "time a client has to send a whole request once it started (REST: "
                                               "headers and body, else 408; gRPC: the request message, else "
                                               "DEADLINE_EXCEEDED)")
    rest_idle_timeout_seconds: float = _limit(60.0, "idle keep-alive REST connections are closed after this")
    listen_backlog: int = _limit(128, "REST listen backlog (connections the kernel queues before accept)")

    def __post_init__(self):
        for field in dataclasses.fields(self):
            if not getattr(self, field.name) > 0:
                raise ValueError(f"{field.name} must be positive, got {getattr(self, field.name)!r}")
        for small, large in [("max_execution_batch_size", "max_batch_size"),
                             ("max_image_pixels", "max_request_pixels"),
                             ("max_request_pixels", "max_inflight_pixels"),
                             ("max_request_bytes", "max_inflight_bytes")]:
            if getattr(self, small) > getattr(self, large):
                raise ValueError(f"{small} ({getattr(self, small)}) must not exceed {large} ({getattr(self, large)})")

    def memory_bound_bytes(self, base_bytes, per_photo_bytes, bytes_per_pixel=BYTES_PER_PIXEL):
        """Upper bound of the server's resident memory under any mix of requests.

        ``base_bytes``: the process with its loaded version(s) (measured at start);
        ``per_photo_bytes``: the model's working memory per photo of a graph run (its activations).
        The terms: request payloads (each held as the message, its parse and numpy's copy, so 3x
        ``max_inflight_bytes``; REST bodies still arriving, another ``max_inflight_bytes``; gRPC may
        hold up to ``max_concurrent_rpcs`` received messages before they are admitted), decoded
        pixels, and the graph runs' activations.
        """
        payloads = 4 * self.max_inflight_bytes + self.max_concurrent_rpcs * self.max_request_bytes
        pixels = self.max_inflight_pixels * bytes_per_pixel
        activations = self.max_concurrent_batches * self.max_execution_batch_size * per_photo_bytes
        return base_bytes + payloads + pixels + activations


def add_limit_flags(parser):
    """One ``--flag`` per ServingLimits field, help and default from the field."""
    for field in dataclasses.fields(ServingLimits):
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=type(field.default), default=field.default,
                            metavar=field.name.upper(), help=f"{field.metadata['help']} (default: {field.default})")


def limits_from_args(args):
    """The ServingLimits of parsed ``add_limit_flags`` flags."""
    return ServingLimits(**{field.name: getattr(args, field.name) for field in dataclasses.fields(ServingLimits)})
