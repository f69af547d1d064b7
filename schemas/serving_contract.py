"""The serving contract: what a pushed colornet model takes and returns, and how versions are laid out.

One TensorFlow-free module that every side of the contract imports: the exporter that writes the
signatures (``components/model/signatures.py``, ``export.py``), the Pusher that publishes
versions, the embedded server and its REST API (``serving/``), the client, the TF Serving configs
and the offline evaluator. Change a name here and every side changes with it.

Signatures of a pushed SavedModel (the serving MetaGraph, tag ``serve``):

==================== ===================================== =========================================
signature            inputs                                outputs
==================== ===================================== =========================================
``serving_default``  ``images``: string [batch], encoded   ``colorized_bytes``: string [batch], PNG
                     JPEG/PNG/GIF/BMP of any size          bytes at each input's own size (L of the
                                                           input, ab predicted at the model size,
                                                           stretched); "" for a photo in ``errors``;
                                                           ``errors``: string [batch], "" or why that
                                                           photo was not colorized
``colorize_ab``      ``images`` as above                   ``ab``: float32 [batch, size, size, 2],
                                                           predicted ab in Lab units (0 for a photo in
                                                           ``errors``); ``errors`` as above
``decode_transformed`` ``examples``: string [batch],       the decoded features (``L``, ``ab``,
                     serialized transformed tf.Examples    ``embedding``; ``schemas/features``)
``evaluate_transformed`` ``examples`` as above             ``lab``: float32 [batch, size*size*3], per
                                                           pixel the model's L and its ab / 128
==================== ===================================== =========================================

A bad photo never fails the others of its batch (``errors`` says which and why): under TF
Serving's ``--enable_batching`` a batch mixes the photos of different clients.

The PNG output's name ends in ``_bytes`` because TF Serving's REST API base64-encodes a string
output (``{"b64": ...}``) only when its name ends in ``_bytes``; any other string output is
written raw into the JSON, which PNG bytes would make invalid. ``errors`` is text.

``decode_transformed`` and ``evaluate_transformed`` are the pair the TFX Evaluator (TFMA) calls, on
the transformed tf.Examples Transform wrote.

Versions: ``<base>/<integer version>/saved_model.pb`` (TF Serving's file-system source); the
largest integer is the newest. A version folder counts only once ``saved_model.pb`` exists, and
the Pusher publishes a whole folder by renaming it into place. Each version carries TF Serving's
warm-up requests (``WARMUP_FILE``).
"""
import pathlib

MODEL_NAME = "colornet"

SERVING_SIGNATURE = "serving_default"
COLORIZE_AB_SIGNATURE = "colorize_ab"
# The pair TFMA calls, on serialized transformed tf.Examples (Transform's output). Named apart from the
# former pair on raw examples (transform_features / evaluate), so a model exported before can be told apart.
TRANSFORM_SIGNATURE = "decode_transformed"
EVALUATE_SIGNATURE = "evaluate_transformed"

IMAGES_INPUT = "images"       # string [batch]: encoded photos, any size
EXAMPLES_INPUT = "examples"   # string [batch]: serialized transformed tf.Examples (lab_png, embedding_f16)
COLORIZED_OUTPUT = "colorized_bytes"  # string [batch]: PNG bytes at each photo's own size ("" if in errors)
ERRORS_OUTPUT = "errors"      # string [batch]: "" or why that photo was not colorized
AB_OUTPUT = "ab"              # float32 [batch, size, size, 2]: ab in Lab units
EVAL_OUTPUT = "lab"           # float32 [batch, size * size * 3]: model L and ab / 128 per pixel

# Encoded images the serving graph decodes, by their leading bytes (TensorFlow's decode_image
# dispatches on them): JPEG (gray or RGB; CMYK is refused), PNG, GIF, BMP. Clients transcode the rest.
ACCEPTED_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF8", b"BM")

# TensorFlow Serving's default ports, used by our server's defaults and the generated configs.
GRPC_PORT = 8500
REST_PORT = 8501

SAVED_MODEL_FILE = "saved_model.pb"
SERVE_TAG = "serve"
WARMUP_FILE = "assets.extra/tf_serving_warmup_requests"


def loadable_versions(base_dir):
    """Integer version folders under ``base_dir`` that hold a complete SavedModel, ascending."""
    root = pathlib.Path(base_dir)
    if not root.is_dir():
        return []
    return sorted(int(path.name) for path in root.iterdir()
                  if path.name.isdigit() and (path / SAVED_MODEL_FILE).is_file())
