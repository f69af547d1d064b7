"""Names of the features that flow between stages: one place, so stages cannot drift apart.

Raw examples (written by ingestion, described by ``schemas/raw/schema.pbtxt``):
  image   bytes  the photo, encoded as JPEG or PNG, already upright RGB (ingestion normalizes it)
  id      bytes  the photo's path relative to the input folder
  sha256  bytes  hex digest of the original file's bytes (dedup and the train/eval split)
  height  int64  pixel height of ``image``
  width   int64  pixel width of ``image``

Transformed examples (written by Transform, read by the Trainer and the Evaluator):
  L       float  lightness at the model's size, scaled to [-1, 1], shape [size, size, 1] flattened
  ab      float  chroma at the model's size, divided by 128, shape [size, size, 2] flattened
  embedding float the classifier's 1000-way output for the photo (fusion models only)
"""

IMAGE = "image"
ID = "id"
SHA256 = "sha256"
HEIGHT = "height"
WIDTH = "width"
RAW_FEATURES = (IMAGE, ID, SHA256, HEIGHT, WIDTH)

L = "L"
AB = "ab"
EMBEDDING = "embedding"

# Serving signatures (see components/signatures.py).
SERVING_INPUT = "images"      # tf.string [batch]: encoded image bytes, any size
SERVING_OUTPUT = "colorized"  # tf.string [batch]: PNG bytes at each input's size
AB_OUTPUT = "ab"              # float32 [batch, size, size, 2]: predicted ab in Lab units
