"""Client for the colornet gRPC service (ours or the real ``tensorflow_model_server``).

``ColorizeClient.colorize(list_of_image_bytes) -> list_of_png_bytes``; helpers colorize
one file, a folder (batched, with a progress bar) or bytes read from stdin.
"""
import pathlib
import time

import grpc
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from ..schemas import serving_contract as contract
from .defaults import DEFAULT_MAX_MESSAGE_BYTES
from .images import image_files, transcode_for_serving
from .model_store import State


class ColorizeClient:
    """Talks to one model of one server. Use as a context manager, or call ``close()``.

    Calls that fail with UNAVAILABLE (server starting, restarting, briefly overloaded) are
    retried ``retries`` times with exponential backoff; any other error is raised at once
    as ``grpc.RpcError`` (its ``.code()`` and ``.details()`` say what was wrong).
    """

    def __init__(self, target, model_name=contract.MODEL_NAME, version=None, timeout=30.0, retries=3,
                 max_message_bytes=DEFAULT_MAX_MESSAGE_BYTES, backoff_seconds=0.2):
        self.target = target
        self.model_name = model_name
        self.version = version
        self.timeout = timeout
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self._channel = grpc.insecure_channel(target, options=[
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes)])
        self._predictions = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._models = model_service_pb2_grpc.ModelServiceStub(self._channel)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _model_spec(self, spec, signature_name=None):
        spec.name = self.model_name
        if self.version is not None:
            spec.version.value = int(self.version)
        if signature_name:
            spec.signature_name = signature_name

    def _call(self, method, request):
        for attempt in range(self.retries + 1):
            try:
                return method(request, timeout=self.timeout)
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.UNAVAILABLE or attempt == self.retries:
                    raise
                time.sleep(self.backoff_seconds * 2 ** attempt)

    def predict(self, inputs, signature_name=contract.SERVING_SIGNATURE, output_filter=()):
        """Runs any signature: ``inputs`` maps names to array-likes; returns name -> numpy array."""
        request = predict_pb2.PredictRequest()
        self._model_spec(request.model_spec, signature_name)
        for name, value in inputs.items():
            request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
        request.output_filter.extend(output_filter)
        response = self._call(self._predictions.Predict, request)
        return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}

    def colorize(self, images):
        """Encoded images (any format Pillow reads, any sizes) -> colorized PNG bytes, in order.

        Formats the model's signature cannot decode in-graph (WebP, TIFF, CMYK or EXIF-rotated
        JPEG, ...) are transcoded to PNG here first; see ``serving/images.py``.
        """
        if not images:
            return []
        images = [_servable(image) for image in images]
        request = predict_pb2.PredictRequest()
        self._model_spec(request.model_spec, contract.SERVING_SIGNATURE)
        request.inputs[contract.IMAGES_INPUT].CopyFrom(tf.make_tensor_proto(list(images), dtype=tf.string))
        request.output_filter.append(contract.COLORIZED_OUTPUT)
        response = self._call(self._predictions.Predict, request)
        return list(response.outputs[contract.COLORIZED_OUTPUT].string_val)

    def status(self):
        """[{"version": int, "state": "AVAILABLE", "error": str}, ...] as the server reports them."""
        request = get_model_status_pb2.GetModelStatusRequest()
        self._model_spec(request.model_spec)
        response = self._call(self._models.GetModelStatus, request)
        return [{"version": entry.version, "state": State.Name(entry.state), "error": entry.status.error_message}
                for entry in response.model_version_status]

    def metadata(self):
        """(served version, {signature name: SignatureDef})."""
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        self._model_spec(request.model_spec)
        response = self._call(self._predictions.GetModelMetadata, request)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)
        return response.model_spec.version.value, dict(signature_map.signature_def)


def _servable(image):
    try:
        return transcode_for_serving(image)
    except ValueError:
        return image  # unreadable here too: the server answers INVALID_ARGUMENT with its reason


def colorize_file(client, source, target):
    """Colorizes one image file into a PNG at ``target``; returns the target path."""
    (png,) = client.colorize([pathlib.Path(source).read_bytes()])
    target = pathlib.Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(png)
    return target


_PER_IMAGE_ERRORS = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED)


def _colorize_batch(client, paths):
    """[(path, png or None, error or None)]: a batch the server refuses is retried image by image,
    so one corrupt or oversized file does not sink the others."""
    try:
        pngs = client.colorize([path.read_bytes() for path in paths])
    except grpc.RpcError as error:
        if error.code() not in _PER_IMAGE_ERRORS:
            raise
        if len(paths) == 1:
            return [(paths[0], None, f"{error.code().name}: {error.details()}")]
        return [result for path in paths for result in _colorize_batch(client, [path])]
    return [(path, png, None) for path, png in zip(paths, pngs)]


def colorize_folder(client, source_dir, target_dir, batch_size=8, progress=True):
    """Colorizes every image under ``source_dir`` into ``target_dir`` (same sub-folders, ``.png``).

    Sends ``batch_size`` images per request. Returns (written paths, {path: error} of the
    images the server refused).
    """
    from tqdm import tqdm

    source_dir, target_dir = pathlib.Path(source_dir), pathlib.Path(target_dir)
    sources = image_files(source_dir)
    written, failed = [], {}
    with tqdm(total=len(sources), unit="img", desc="colorizing", disable=not progress) as bar:
        for start in range(0, len(sources), batch_size):
            batch = sources[start:start + batch_size]
            for source, png, error in _colorize_batch(client, batch):
                if error:
                    failed[source] = error
                    continue
                target = (target_dir / source.relative_to(source_dir)).with_suffix(".png")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(png)
                written.append(target)
            bar.update(len(batch))
    return written, failed


def colorize_stream(client, source, target):
    """Colorizes the image bytes read from binary stream ``source`` into binary stream ``target``."""
    (png,) = client.colorize([source.read()])
    target.write(png)
    target.flush()
