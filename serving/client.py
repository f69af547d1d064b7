"""Client for the colornet gRPC service (ours or the real ``tensorflow_model_server``), without TensorFlow.

``ColorizeClient.colorize(list_of_image_bytes) -> list_of_png_bytes``; helpers colorize one
file, a folder (batched, with a progress bar) or bytes read from stdin.

It needs only grpcio and protobuf: TF Serving's messages are declared in ``serving/wire.py``
and tensors converted in ``serving/tensors.py``, because ``tensorflow-serving-api``'s generated
modules import all of TensorFlow (10-30 s before the first request). It speaks TF Serving's
public gRPC API only, so it works unchanged against ``tensorflow_model_server``.

What it does about the server's limits and hiccups:

- UNAVAILABLE (server starting, restarting, overloaded) is retried with exponential backoff and
  jitter until ``retry_seconds`` have passed (30 s by default: a server restart takes ~12 s).
  Nothing else is retried: DEADLINE_EXCEEDED means the server may still be working on the
  request, and sending it again would only double the load.
- A server with batching enabled refuses a request of more photos than its ``max_batch_size``
  with TF Serving's "Task size N is larger than maximum input batch size M". The client reads
  M from that message, logs a warning once and sends at most M photos per request from then on.
- A signature with an ``errors`` output (``schemas/serving_contract.py``: one message per photo,
  empty when it was colorized) reports refused photos one by one: ``colorize`` raises
  ``PhotosRefused``, folder runs report each photo.
"""
import contextlib
import logging
import os
import pathlib
import random
import secrets
import time

import grpc

from ..schemas import serving_contract as contract
from . import tensors, wire
from .defaults import DEFAULT_MAX_MESSAGE_BYTES
from .images import ImageTooLarge, image_files, transcode_for_serving
from .limits import batch_limit_from_message

log = logging.getLogger(__name__)

DEFAULT_RETRY_SECONDS = 30.0
_FIRST_BACKOFF_SECONDS = 0.1
_MAX_BACKOFF_SECONDS = 1.0
# Codes a server answers when a request's photos (not the server) are the problem.
_PER_PHOTO_CODES = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED)


class ColorizeError(Exception):
    """The client's own errors (the server's come as ``grpc.RpcError``). ``exit_status`` is the CLI's."""

    exit_status = 1


class PhotosRefused(ColorizeError):
    """Photos of one ``colorize`` call that were not colorized; ``reasons`` maps their index in the call to why."""

    def __init__(self, reasons):
        self.reasons = reasons
        super().__init__("; ".join(f"photo {index}: {reason}" for index, reason in sorted(reasons.items())))


class UnexpectedResponse(ColorizeError):
    """The server answered, but not with what a colornet signature returns (another model, another release)."""


class OutputNotWritable(ColorizeError):
    """A colorized photo could not be written where the user asked."""

    exit_status = 2


def _channel_options(max_message_bytes):
    return [
        # gRPC's own limit is 4 MB, less than one large photo.
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        # gRPC waits up to 120 s between reconnection attempts after failures; cap it, so a client
        # that retried through a server restart reconnects within a second of the server's return.
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 1000),
    ]


class ColorizeClient:
    """Talks to one model of one server. Use as a context manager, or call ``close()``.

    ``version`` pins a version number, ``version_label`` a label the server maps to one (TF
    Serving's ``version_labels`` in ``models.config``); at most one of them. ``timeout`` is the
    seconds one request may take; ``retry_seconds`` how long UNAVAILABLE answers are retried.
    ``max_batch_size`` caps photos per request (None: as many as given, until the server says less).
    Errors of the server are raised as ``grpc.RpcError`` (``.code()``, ``.details()``).
    """

    def __init__(self, target, model_name=contract.MODEL_NAME, version=None, version_label=None, timeout=30.0,
                 retry_seconds=DEFAULT_RETRY_SECONDS, max_message_bytes=DEFAULT_MAX_MESSAGE_BYTES,
                 max_batch_size=None):
        if version is not None and version_label:
            raise ValueError("give a version or a version label, not both (TF Serving's ModelSpec holds one)")
        if max_batch_size is not None and max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, not {max_batch_size}")
        self.target = target
        self.model_name = model_name
        self.version = version
        self.version_label = version_label
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self.max_batch_size = max_batch_size
        self._channel = grpc.insecure_channel(target, options=_channel_options(max_message_bytes))
        self._predict = self._method(wire.PREDICT_METHOD, wire.PredictRequest, wire.PredictResponse)
        self._metadata = self._method(wire.GET_MODEL_METADATA_METHOD, wire.GetModelMetadataRequest,
                                      wire.GetModelMetadataResponse)
        self._status = self._method(wire.GET_MODEL_STATUS_METHOD, wire.GetModelStatusRequest,
                                    wire.GetModelStatusResponse)

    def _method(self, path, request, response):
        return self._channel.unary_unary(path, request_serializer=request.SerializeToString,
                                         response_deserializer=response.FromString)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _model_spec(self, spec, signature_name=None, version=None):
        spec.name = self.model_name
        version = self.version if version is None else version
        if version is not None:
            spec.version.value = int(version)
        elif self.version_label:
            spec.version_label = self.version_label
        if signature_name:
            spec.signature_name = signature_name

    def _call(self, method, request):
        """One RPC, retried on UNAVAILABLE with exponential backoff and jitter until ``retry_seconds`` pass."""
        give_up = time.monotonic() + self.retry_seconds
        backoff = _FIRST_BACKOFF_SECONDS
        while True:
            try:
                return method(request, timeout=self.timeout)
            except grpc.RpcError as error:
                pause = backoff * random.uniform(0.5, 1.0)
                if error.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() + pause > give_up:
                    raise
            time.sleep(pause)
            backoff = min(2 * backoff, _MAX_BACKOFF_SECONDS)

    def predict(self, inputs, signature_name=contract.SERVING_SIGNATURE, output_filter=()):
        """Runs any signature: ``inputs`` maps names to array-likes; returns name -> numpy array."""
        request = wire.PredictRequest(output_filter=list(output_filter))
        self._model_spec(request.model_spec, signature_name)
        for name, value in inputs.items():
            request.inputs[name].CopyFrom(tensors.to_tensor_proto(value))
        response = self._call(self._predict, request)
        return {name: tensors.to_ndarray(proto) for name, proto in response.outputs.items()}

    def colorize(self, images):
        """Encoded images (any format Pillow reads, any sizes) -> colorized PNG bytes, in order.

        Formats the model's signature cannot decode in-graph (WebP, TIFF, CMYK or EXIF-rotated
        JPEG, ...) are transcoded to PNG here first; see ``serving/images.py``. Raises
        ``PhotosRefused`` for photos refused one by one (too large to decode here, or named in the
        signature's ``errors`` output) and ``grpc.RpcError`` when the server refuses the request.
        """
        servable, refused = _servable_photos(images)
        if refused:
            raise PhotosRefused(refused)
        results = self._colorize_in_batches(servable)
        refused = {index: error for index, (_, error) in enumerate(results) if error}
        if refused:
            raise PhotosRefused(refused)
        return [png for png, _ in results]

    def colorize_each(self, images):
        """Like ``colorize``, but one outcome per photo instead of one exception: [(png, None) or (None, reason)].

        A request the server refuses for its photos (INVALID_ARGUMENT, RESOURCE_EXHAUSTED) is split
        in halves until the refused photos are alone, so one corrupt or oversized file does not
        sink the others. Other server errors are raised (``grpc.RpcError``).
        """
        servable, refused = _servable_photos(images)
        outcomes = {index: (None, reason) for index, reason in refused.items()}
        indexes = [index for index in range(len(images)) if index not in refused]
        for index, outcome in zip(indexes, self._colorize_isolating([servable[index] for index in indexes])):
            outcomes[index] = outcome
        return [outcomes[index] for index in range(len(images))]

    def _colorize_isolating(self, images):
        try:
            return self._colorize_in_batches(images)
        except grpc.RpcError as error:
            if error.code() not in _PER_PHOTO_CODES:
                raise
            if len(images) == 1:
                return [(None, f"{error.code().name}: {error.details()}")]
        half = len(images) // 2
        return self._colorize_isolating(images[:half]) + self._colorize_isolating(images[half:])

    def _colorize_in_batches(self, images):
        """[(png, error)] for servable ``images``, at most ``max_batch_size`` per request (learned from the
        server when it refuses a larger batch)."""
        results = []
        while len(results) < len(images):
            size = min(len(images) - len(results), self.max_batch_size or len(images))
            batch = images[len(results):len(results) + size]
            try:
                results += self._colorize_batch(batch)
            except grpc.RpcError as error:
                limit = _batch_limit(error)
                if limit is None or not 0 < limit < len(batch):
                    raise
                log.warning("%s accepts at most %d photos per request (%s); sending %d per request from now on",
                            self.target, limit, error.details(), limit)
                self.max_batch_size = limit
        return results

    def _colorize_batch(self, images):
        request = wire.PredictRequest()
        self._model_spec(request.model_spec, contract.SERVING_SIGNATURE)
        # No output_filter: the signature returns the PNGs and, when it has it, the per-photo errors
        # output, and asking for an output a signature lacks is an error on TF Serving.
        request.inputs[contract.IMAGES_INPUT].CopyFrom(tensors.string_tensor(images))
        outputs = self._call(self._predict, request).outputs
        if contract.COLORIZED_OUTPUT not in outputs:
            raise UnexpectedResponse(
                f"{self.target} answered without a {contract.COLORIZED_OUTPUT!r} output (outputs: "
                f"{sorted(outputs)}): is it serving a colornet model of this release?")
        pngs = self._output_strings(outputs, contract.COLORIZED_OUTPUT, len(images))
        errors = (self._output_strings(outputs, contract.ERRORS_OUTPUT, len(images))
                  if contract.ERRORS_OUTPUT in outputs else [b""] * len(images))
        return [(None, error.decode("utf-8", "replace")) if error else (png, None) for png, error in zip(pngs, errors)]

    def _output_strings(self, outputs, name, count):
        try:
            return tensors.strings(outputs[name], f"output {name!r}", count)
        except ValueError as error:
            raise UnexpectedResponse(f"{self.target}: {error} (one per photo)") from None

    def status(self):
        """[{"version": int, "state": "AVAILABLE", "error": str}, ...] as the server reports them.

        All versions, or only the pinned one; for a version label, the version the label points at
        (TF Serving's GetModelStatus ignores labels, so the label is resolved through GetModelMetadata).
        """
        request = wire.GetModelStatusRequest()
        version = self.metadata()[0] if self.version_label else None
        self._model_spec(request.model_spec, version=version)
        response = self._call(self._status, request)
        return [{"version": entry.version, "state": _state_name(entry.state), "error": entry.status.error_message}
                for entry in response.model_version_status]

    def metadata(self):
        """(served version, {signature name: SignatureDef}) of the version this client calls."""
        request = wire.GetModelMetadataRequest(metadata_field=["signature_def"])
        self._model_spec(request.model_spec)
        response = self._call(self._metadata, request)
        signature_map = wire.SignatureDefMap()
        if not response.metadata["signature_def"].Unpack(signature_map):
            raise UnexpectedResponse(f"{self.target}: signature_def metadata is a "
                                     f"{response.metadata['signature_def'].TypeName()!r}, not a SignatureDefMap")
        return response.model_spec.version.value, dict(signature_map.signature_def)


def _state_name(number):
    return wire.VersionState.Name(number) if number in wire.VersionState.values() else f"STATE_{number}"


def _batch_limit(error):
    return batch_limit_from_message(error.details())


def _servable_photos(images):
    """(photos as the signature takes them, {index: reason} of those refused here).

    Bytes Pillow cannot read are sent as they are: the server's answer says best what is wrong.
    """
    servable, refused = [], {}
    for index, image in enumerate(images):
        try:
            servable.append(transcode_for_serving(image))
        except ImageTooLarge as error:
            refused[index] = str(error)
            servable.append(None)
        except ValueError:
            servable.append(image)
    return servable, refused


def _write_png(target, png):
    """Writes ``png`` to ``target`` whole (a temporary file renamed into place) or raises OutputNotWritable."""
    target = pathlib.Path(target)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(temporary, "xb") as file:
                file.write(png)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
    except OSError as error:
        raise OutputNotWritable(f"cannot write {target}: {error.strerror or error}") from None
    return target


def prepare_output_folder(folder):
    """Creates ``folder`` (and parents) for the PNGs, or raises OutputNotWritable saying why not."""
    folder = pathlib.Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputNotWritable(
            f"cannot create the output folder {folder}: a file of that name is in the way") from None
    except OSError as error:
        raise OutputNotWritable(f"cannot create the output folder {folder}: {error.strerror or error}") from None
    return folder


def colorize_file(client, source, target):
    """Colorizes one image (a file path, or a binary stream such as stdin) into a PNG at ``target``.

    Checks that ``target`` can be created before calling the server; writes it whole. Returns its path.
    """
    target = pathlib.Path(target)
    if target.is_dir():
        raise OutputNotWritable(f"cannot write {target}: it is a folder (give a file name)")
    prepare_output_folder(target.parent)
    (png,) = client.colorize([source.read() if hasattr(source, "read") else pathlib.Path(source).read_bytes()])
    return _write_png(target, png)


def colorize_folder(client, source_dir, target_dir, batch_size=8, progress=True):
    """Colorizes every image under ``source_dir`` into ``target_dir`` (same sub-folders, ``.png``).

    Reads and sends ``batch_size`` images per request (fewer when the server's limit is lower).
    Returns (written paths, {path: reason} of the images not colorized). Raises OutputNotWritable
    when a PNG cannot be written (the PNGs written so far stay).
    """
    from tqdm import tqdm

    source_dir, target_dir = pathlib.Path(source_dir), prepare_output_folder(target_dir)
    sources = image_files(source_dir)
    written, failed = [], {}
    with tqdm(total=len(sources), unit="img", desc="colorizing", disable=not progress) as bar:
        for start in range(0, len(sources), batch_size):
            batch, photos = [], []
            for path in sources[start:start + batch_size]:
                try:
                    photos.append(path.read_bytes())
                    batch.append(path)
                except OSError as error:
                    failed[path] = f"cannot read: {error.strerror or error}"
            for source, (png, error) in zip(batch, client.colorize_each(photos)):
                if error:
                    failed[source] = error
                    continue
                written.append(_write_png((target_dir / source.relative_to(source_dir)).with_suffix(".png"), png))
            bar.update(len(sources[start:start + batch_size]))
    return written, failed


def colorize_stream(client, source, target):
    """Colorizes the image bytes read from binary stream ``source`` into binary stream ``target``."""
    (png,) = client.colorize([source.read()])
    target.write(png)
    target.flush()
