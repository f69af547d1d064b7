"""The export step: a trained model -> a SavedModel directory that is safe to push and to serve.

``export_serving_model`` does, in this order:

1. writes TF Serving's warm-up file (``serving_contract.WARMUP_FILE``): PredictionLogs whose
   PredictRequests call ``serving_default`` with a small JPEG, a small PNG and both at once (mixed
   sizes), so a server started with ``--enable_model_warmup`` (ours always warms up) traces and
   allocates before real traffic;
2. saves the model with its signatures (``signatures.build_signatures``); TensorFlow writes
   ``saved_model.pb`` last;
3. verifies the export: loads it back and runs the same requests, checking each colorized PNG
   has its input's size. A model that cannot serve its own warm-up requests fails the Trainer,
   so its artifact never reaches the Evaluator or the Pusher.

Publishing a version atomically is the Pusher's job (``components/pusher``).
"""
import logging

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from ...schemas import serving_contract as contract
from . import signatures


class ExportError(RuntimeError):
    """The exported model failed its own warm-up requests."""


def warmup_images():
    """A small JPEG (40x56) and a small PNG (48x32) of smooth color gradients, encoded by TensorFlow."""
    def gradient(height, width):
        rows, cols = np.mgrid[0:height, 0:width]
        rgb = np.stack([rows / height, cols / width, 1 - (rows + cols) / (height + width)], axis=-1)
        return tf.constant((rgb * 255).astype(np.uint8))

    jpeg = tf.io.encode_jpeg(gradient(40, 56), quality=90).numpy()
    png = tf.io.encode_png(gradient(48, 32)).numpy()
    return [jpeg, png]


def warmup_requests():
    """PredictRequests for ``serving_default``: the JPEG, the PNG, then both in one batch."""
    jpeg, png = warmup_images()
    requests = []
    for batch in ([jpeg], [png], [jpeg, png]):
        request = predict_pb2.PredictRequest()
        request.model_spec.name = contract.MODEL_NAME
        request.model_spec.signature_name = contract.SERVING_SIGNATURE
        request.inputs[contract.IMAGES_INPUT].CopyFrom(tf.make_tensor_proto(batch, dtype=tf.string))
        requests.append(request)
    return requests


def write_warmup_requests(export_dir, requests):
    """Writes ``requests`` as the TFRecord of PredictionLogs TF Serving replays at load time; returns its path."""
    path = f"{export_dir.rstrip('/')}/{contract.WARMUP_FILE}"
    tf.io.gfile.makedirs(path.rsplit("/", 1)[0])
    with tf.io.TFRecordWriter(path) as writer:
        for request in requests:
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path


def run_requests(loaded, requests):
    """Runs PredictRequests through ``loaded`` (``tf.saved_model.load``); returns the outputs.

    Raises ``ExportError`` if a colorized PNG does not have its input's height and width.
    """
    results = []
    for request in requests:
        function = loaded.signatures[request.model_spec.signature_name or contract.SERVING_SIGNATURE]
        inputs = {name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
        outputs = function(**inputs)
        for encoded, png in zip(inputs[contract.IMAGES_INPUT].numpy(), outputs[contract.COLORIZED_OUTPUT].numpy()):
            expected = tuple(tf.io.decode_image(encoded, channels=3).shape[:2])
            produced = tuple(tf.io.decode_png(png).shape[:2])
            if produced != expected:
                raise ExportError(f"warm-up request colorized a {expected} image into {produced}")
        results.append(outputs)
    return results


def export_serving_model(model, tft_output, size, export_dir, verify=True):
    """Writes the serving SavedModel of ``model`` (fed by ``tft_output``'s Transform graph) to ``export_dir``."""
    requests = warmup_requests()
    write_warmup_requests(export_dir, requests)
    model.save(export_dir, save_format="tf", signatures=signatures.build_signatures(model, tft_output, size))
    if verify:
        run_requests(tf.saved_model.load(export_dir), requests)
        logging.info("Exported %s; its warm-up requests run correctly", export_dir)
    return export_dir
