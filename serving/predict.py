"""Running one signature of a loaded version on numpy inputs, with per-request limits.

Transport-neutral: the gRPC servicer and the REST handler convert their wire formats to
numpy arrays, call ``predict`` and map ``ServingError.code`` (a ``grpc.StatusCode``) to
their own error replies.
"""
import dataclasses
import io
import re
import warnings

import grpc
import numpy as np
import tensorflow as tf
from PIL import Image

from .defaults import DEFAULT_MAX_PIXELS, DEFAULT_MAX_REQUEST_BYTES


class ServingError(Exception):
    """A request that cannot be served, with the gRPC status code to answer."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclasses.dataclass(frozen=True)
class RequestLimits:
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS

    def check_request_bytes(self, size):
        if size > self.max_request_bytes:
            raise ServingError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                               f"request is {size} bytes, over the server's limit of {self.max_request_bytes} bytes")

    def check_image_pixels(self, input_name, array):
        """Rejects any string element that is an image larger than ``max_pixels``.

        Reads only the image header (PIL opens lazily), so a huge image is refused before
        anything decodes it. Elements PIL does not recognise are left to the signature.
        """
        if array.dtype != object:
            return
        for index, element in enumerate(array.reshape(-1)):
            if not isinstance(element, bytes):
                continue
            width, height = _image_size(element)
            if width * height > self.max_pixels:
                raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"input {input_name!r}[{index}] is a {width}x{height} image "
                                   f"({width * height} pixels), over the server's limit of {self.max_pixels} pixels")


def _image_size(encoded):
    """(width, height) from an image's header, or (0, 0) when it is no image PIL knows."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(encoded)) as image:
                return image.size
    except Image.DecompressionBombError:
        return (Image.MAX_IMAGE_PIXELS, 2)  # larger than PIL's own bomb limit: certainly too large
    except Exception:  # noqa: BLE001 - PIL raises many kinds of errors on non-image bytes
        return (0, 0)


_NODE_NOISE = re.compile(r"\{\{function_node [^}]*\}\}|\[\[\{\{node [^]]*\]\]|\[Op:[^]]*\]")


def _tf_message(error):
    """The human part of a TF op error (without function/node names)."""
    return " ".join(_NODE_NOISE.sub(" ", error.message).split())


def signature_def(loaded, signature_name):
    try:
        return loaded.signature_defs[signature_name]
    except KeyError:
        # TF Serving's code and wording for an unknown signature.
        raise ServingError(grpc.StatusCode.FAILED_PRECONDITION,
                           f"Serving signature name: {signature_name!r} not found in signature def "
                           f"(available: {sorted(loaded.signature_defs)})") from None


def predict(loaded, signature_name, inputs, output_filter=(), limits=RequestLimits()):
    """Runs ``signature_name`` of ``loaded`` on ``inputs`` (name -> numpy array).

    Returns name -> numpy array, only the names in ``output_filter`` when it is given.
    Raises ServingError for anything the caller got wrong.
    """
    definition = signature_def(loaded, signature_name)
    function = loaded.signature(signature_name)
    expected, given = set(definition.inputs), set(inputs)
    if expected != given:
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"signature {signature_name!r} takes inputs {sorted(expected)}, got {sorted(given)}")
    unknown_outputs = set(output_filter) - set(definition.outputs)
    if unknown_outputs:
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"output_filter names {sorted(unknown_outputs)} are not outputs of signature "
                           f"{signature_name!r} (outputs: {sorted(definition.outputs)})")
    tensors = {}
    for name, array in inputs.items():
        limits.check_image_pixels(name, array)
        dtype = tf.as_dtype(definition.inputs[name].dtype)
        try:
            tensors[name] = tf.convert_to_tensor(array, dtype=dtype)
        except (TypeError, ValueError) as error:
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"input {name!r} cannot be converted to {dtype.name}: {error}") from None
    try:
        outputs = function(**tensors)
    except tf.errors.InvalidArgumentError as error:
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"signature {signature_name!r} rejected the input: {_tf_message(error)}") from None
    except (TypeError, ValueError) as error:  # shapes the signature does not accept
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"signature {signature_name!r} does not accept these inputs: {error}") from None
    except tf.errors.ResourceExhaustedError as error:
        raise ServingError(grpc.StatusCode.RESOURCE_EXHAUSTED, _tf_message(error)) from None
    except tf.errors.OpError as error:
        raise ServingError(grpc.StatusCode.INTERNAL, _tf_message(error)) from None
    wanted = set(output_filter) or set(outputs)
    return {name: np.asarray(tensor.numpy()) for name, tensor in outputs.items() if name in wanted}
