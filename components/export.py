"""The export step: a trained model -> a SavedModel directory that is safe to push and to serve.

``export_serving_model`` does, in this order:

1. writes ``assets.extra/tf_serving_warmup_requests``: PredictionLogs whose PredictRequests
   call ``serving_default`` with a small JPEG, a small PNG and both at once (mixed sizes), so a
   server started with ``--enable_model_warmup`` traces and allocates before real traffic;
2. saves the model with its signatures (``signatures.build_signatures``); TensorFlow writes
   ``saved_model.pb`` last, so even the export directory is complete once that file exists;
3. verifies the export: loads it back and replays every warm-up request, checking each
   colorized PNG has its input's size. A model that cannot serve its own warm-up requests
   fails the Trainer, so its artifact is never published to the Evaluator or the Pusher.

Why a pushed version is never half-visible (TFX 1.16 ``tfx/components/pusher/executor.py``,
filesystem destination): the Pusher names the version ``str(int(time.time()))`` (a UNIX
timestamp: an integer TF Serving orders by value, 10 digits until the year 2286), copies the
model with ``copy_dir(..., deny_regex_patterns=[r'saved_model\\.pb'])`` and only then copies
``saved_model.pb``. TF Serving (and ``serving/model_store.py``) loads only version folders that
contain ``saved_model.pb``. Caveats: ``saved_model.pb`` itself is copied in place (not renamed
into place), so a poller could in principle read it while it is being written, and a second
push within the same second as the previous one finds the folder present and is skipped.
"""
import logging

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from colornet.components import features, signatures

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"


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
        request.model_spec.signature_name = signatures.SERVING_SIGNATURE
        request.inputs[features.SERVING_INPUT].CopyFrom(tf.make_tensor_proto(batch, dtype=tf.string))
        requests.append(request)
    return requests


def warmup_path(export_dir):
    return f"{export_dir.rstrip('/')}/{WARMUP_DIR}/{WARMUP_FILE}"


def write_warmup_requests(export_dir, requests):
    """Writes ``requests`` as the TFRecord of PredictionLogs TF Serving replays at load time."""
    path = warmup_path(export_dir)
    tf.io.gfile.makedirs(path.rsplit("/", 1)[0])
    with tf.io.TFRecordWriter(path) as writer:
        for request in requests:
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path


def read_warmup_requests(export_dir):
    """The PredictRequests in an export's warm-up file."""
    return [prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
            for record in tf.data.TFRecordDataset(warmup_path(export_dir))]


def replay_warmup_requests(loaded, export_dir):
    """Runs each warm-up request through ``loaded`` (``tf.saved_model.load``); returns the outputs.

    Raises ``ExportError`` if a colorized PNG does not have its input's height and width.
    """
    results = []
    for request in read_warmup_requests(export_dir):
        function = loaded.signatures[request.model_spec.signature_name or signatures.SERVING_SIGNATURE]
        inputs = {name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
        outputs = function(**inputs)
        for encoded, png in zip(inputs[features.SERVING_INPUT].numpy(), outputs[features.SERVING_OUTPUT].numpy()):
            expected = tuple(tf.io.decode_image(encoded, channels=3).shape[:2])
            produced = tuple(tf.io.decode_png(png).shape[:2])
            if produced != expected:
                raise ExportError(f"warm-up request colorized a {expected} image into {produced}")
        results.append(outputs)
    return results


def export_serving_model(model, tft_output, size, export_dir, verify=True):
    """Writes the serving SavedModel of ``model`` (fed by ``tft_output``'s Transform graph) to ``export_dir``."""
    write_warmup_requests(export_dir, warmup_requests())
    model.save(export_dir, save_format="tf", signatures=signatures.build_signatures(model, tft_output, size))
    if verify:
        replay_warmup_requests(tf.saved_model.load(export_dir), export_dir)
        logging.info("Exported %s; its warm-up requests replay correctly", export_dir)
    return export_dir
