"""Client for the colornet gRPC service (ours or the real ``tensorflow_model_server``), without TensorFlow.

``ColorizeClient.colorize(list_of_image_bytes) -> list_of_png_bytes``; helpers colorize one
file, a folder (batched, with a progress bar) or bytes read from stdin.

It needs only grpcio and protobuf: TF Serving's messages are declared in ``serving/wire.py``
and tensors converted in ``serving/tensors.py``, because ``tensorflow-serving-api``'s generated
modules import all of TensorFlow (10-30 s before the first request). It speaks TF Serving's
public gRPC API only, so it works unchanged against ``tensorflow_model_server``.

What it does about the server's limits and hiccups:

- UNAVAILABLE (server starting, restarting, overloaded) and gRPC's own RESOURCE_EXHAUSTED
  "Concurrent RPC limit exceeded" (a server's ``maximum_concurrent_rpcs`` reached: busy, not a bad
  photo) are retried with exponential backoff and jitter until ``retry_seconds`` have passed (30 s
  by default: a server restart takes ~12 s). Nothing else is retried: DEADLINE_EXCEEDED means the
  server may still be working on the request, and sending it again would only double the load.
- A server with batching enabled refuses a request of more photos than its ``max_batch_size``
  with TF Serving's "Task size N is larger than maximum input batch size M". The client reads
  M from that message, logs a warning once and sends at most M photos per request from then on.
- A signature with an ``errors`` output (``schemas/serving_contract.py``: one message per photo,
  empty when it was colorized) reports refused photos one by one: ``colorize`` raises
  ``PhotosRefused``, folder runs report each photo.

Files are read as ingestion reads them (``schemas/photo_files.py``): a FIFO, socket or device is
refused without being opened for long, and nothing larger than a request may carry is read.
``colorize_folder`` accounts for every image of a folder: written, refused with a reason, or not
done (the run stopped on a server or output error), and never writes two images to one name.
"""
import collections
import contextlib
import dataclasses
import logging
import os
import pathlib
import random
import secrets
import time

import grpc

from ..schemas import photo_files
from ..schemas import serving_contract as contract
from ..schemas.photo_files import printable
from . import tensors, wire
from .defaults import DEFAULT_MAX_MESSAGE_BYTES
from .images import ImageTooLarge, folder_images, transcode_for_serving
from .limits import batch_limit_from_message

log = logging.getLogger(__name__)

DEFAULT_RETRY_SECONDS = 30.0
_FIRST_BACKOFF_SECONDS = 0.1
_MAX_BACKOFF_SECONDS = 1.0
# Codes a server answers when a request's photos (not the server) are the problem.
_PER_PHOTO_CODES = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED)
# gRPC's own details of a call refused over a server's maximum_concurrent_rpcs (RESOURCE_EXHAUSTED).
_CONCURRENCY_LIMIT_DETAILS = "Concurrent RPC limit exceeded"


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


class InputNotReadable(ColorizeError):
    """A photo given by name (or stdin) that cannot be read: permissions, not a regular file, too large to send."""

    exit_status = 2


def server_busy(error):
    """Whether a ``grpc.RpcError`` says the server is busy (retry later), not that the request is bad."""
    return error.code() == grpc.StatusCode.UNAVAILABLE or (
        error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and _CONCURRENCY_LIMIT_DETAILS in (error.details() or ""))


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
    seconds one request may take; ``retry_seconds`` how long a busy server (``server_busy``) is retried.
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
        self.max_message_bytes = max_message_bytes
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
        """One RPC, retried while the server is busy, with exponential backoff and jitter until ``retry_seconds``
        pass."""
        give_up = time.monotonic() + self.retry_seconds
        backoff = _FIRST_BACKOFF_SECONDS
        while True:
            try:
                return method(request, timeout=self.timeout)
            except grpc.RpcError as error:
                pause = backoff * random.uniform(0.5, 1.0)
                if not server_busy(error) or time.monotonic() + pause > give_up:
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
            if error.code() not in _PER_PHOTO_CODES or server_busy(error):
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
        raise OutputNotWritable(f"cannot write {printable(target)}: {error.strerror or error}") from None
    return target


def prepare_output_folder(folder):
    """Creates ``folder`` (and parents) for the PNGs, or raises OutputNotWritable saying why not."""
    folder = pathlib.Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputNotWritable(
            f"cannot create the output folder {printable(folder)}: a file of that name is in the way") from None
    except OSError as error:
        raise OutputNotWritable(
            f"cannot create the output folder {printable(folder)}: {error.strerror or error}") from None
    return folder


def read_photo(client, source):
    """The bytes of one photo: a path (a regular file: a FIFO or a device is refused, never waited on) or a
    binary stream such as stdin, at most the ``client``'s message limit. Raises ``InputNotReadable``."""
    limit = client.max_message_bytes
    if hasattr(source, "read"):
        data = source.read(limit + 1)
        if len(data) > limit:
            raise InputNotReadable(f"cannot read {getattr(source, 'name', 'the input')}: more than the {limit} "
                                   f"bytes a request may carry")
        return data
    try:
        return photo_files.read_file(str(source), limit)
    except OSError as error:
        raise InputNotReadable(f"cannot read {printable(source)}: {error.strerror or error}") from None


def colorize_file(client, source, target):
    """Colorizes one image (a file path, or a binary stream such as stdin) into a PNG at ``target``.

    Checks that ``target`` can be created before calling the server; writes it whole. Returns its path.
    """
    target = pathlib.Path(target)
    if target.is_dir():
        raise OutputNotWritable(f"cannot write {printable(target)}: it is a folder (give a file name)")
    prepare_output_folder(target.parent)
    (png,) = client.colorize([read_photo(client, source)])
    return _write_png(target, png)


@dataclasses.dataclass
class FolderRun:
    """What ``colorize_folder`` did: every image of the folder is in exactly one of written, refused, not_done."""

    written: dict = dataclasses.field(default_factory=dict)    # source -> PNG written
    refused: dict = dataclasses.field(default_factory=dict)    # source -> why it was not colorized
    not_done: list = dataclasses.field(default_factory=list)   # sources not tried: the run stopped (``stopped``)
    renamed: dict = dataclasses.field(default_factory=dict)    # source -> PNG named <name>.png (a shared stem)
    others: int = 0                                            # files without an image suffix, left alone
    stopped: Exception = None                                  # the grpc.RpcError or ColorizeError that stopped it


def output_names(sources, source_dir):
    """({source: PNG path relative to the output folder}, {source: reason} of those given none).

    An image is written as ``<stem>.png``; images of one folder that share a stem (``photo.jpg``,
    ``photo.png``) are each written as ``<name>.png`` (``photo.jpg.png``, ``photo.png.png``). A name
    still claimed twice (an input already named ``photo.jpg.png``) or needed as an output folder is
    given to none of its claimants: they are refused, never overwritten.
    """
    relative = {source: source.relative_to(source_dir) for source in sources}
    by_stem = collections.defaultdict(list)
    for source, path in relative.items():
        by_stem[path.with_suffix(".png")].append(source)
    names = {source: name if len(group) == 1 else relative[source].with_name(f"{relative[source].name}.png")
             for name, group in by_stem.items() for source in group}
    claimants = collections.defaultdict(list)
    for source, name in names.items():
        claimants[name].append(source)
    folders = {folder for name in names.values() for folder in name.parents}
    refused = {}
    for source, name in names.items():
        others = [relative[other] for other in claimants[name] if other != source]
        if others:
            refused[source] = f"its output {name} is also the output of {others[0]}: not colorized (rename one)"
        elif name in folders:
            refused[source] = f"its output {name} is also an output folder: not colorized (rename it)"
    return {source: name for source, name in names.items() if source not in refused}, refused


def colorize_folder(client, source_dir, target_dir, batch_size=8, progress=True, skip_existing=False):
    """Colorizes every image under ``source_dir`` into ``target_dir`` (same sub-folders, ``output_names``).

    Walks the folder as ingestion does (``serving/images.folder_images``), reads and sends
    ``batch_size`` images per request (fewer when the server's limit is lower). A server error
    that outlasts the retries, or a PNG that cannot be written, stops the run: the images not
    done are listed in the returned ``FolderRun``. ``skip_existing`` leaves images whose PNG is
    already there (written whole by an earlier run) alone: they count as written.
    """
    from tqdm import tqdm

    source_dir, target_dir = pathlib.Path(source_dir), prepare_output_folder(target_dir)
    listed = folder_images(source_dir)
    names, clashes = output_names(listed.images, source_dir)
    targets = {source: target_dir / name for source, name in names.items()}
    run = FolderRun(refused={**listed.refused, **clashes}, others=listed.others,
                    renamed={source: targets[source] for source in names
                             if names[source] != source.relative_to(source_dir).with_suffix(".png")})
    todo = [source for source in listed.images if source in targets]
    if skip_existing:
        run.written = {source: targets[source] for source in todo if targets[source].is_file()}
        todo = [source for source in todo if source not in run.written]
    with tqdm(total=len(todo), unit="img", desc="colorizing", disable=not progress) as bar:
        for start in range(0, len(todo), batch_size):
            try:
                _colorize_batch_of_files(client, todo[start:start + batch_size], targets, run)
            except (grpc.RpcError, ColorizeError) as error:
                run.stopped = error
                run.not_done = [source for source in todo[start:]
                                if source not in run.written and source not in run.refused]
                break
            bar.update(len(todo[start:start + batch_size]))
    return run


def _colorize_batch_of_files(client, sources, targets, run):
    batch, photos = [], []
    for path in sources:
        try:
            photos.append(photo_files.read_file(str(path), client.max_message_bytes))
            batch.append(path)
        except OSError as error:
            run.refused[path] = f"cannot read: {error.strerror or error}"
    for source, (png, error) in zip(batch, client.colorize_each(photos)):
        if error:
            run.refused[source] = error
        else:
            run.written[source] = _write_png(targets[source], png)


def colorize_stream(client, source, target):
    """Colorizes one image (a path, or a binary stream such as stdin) into binary stream ``target`` (stdout)."""
    (png,) = client.colorize([read_photo(client, source)])
    try:
        target.write(png)
        target.flush()
    except OSError as error:
        raise OutputNotWritable(f"cannot write to {getattr(target, 'name', 'the output')}: "
                                f"{error.strerror or error}") from None
