"""Names of the features that flow between stages: one place, so stages cannot drift apart.

What the served model takes and returns is the other contract: ``serving_contract``.

Raw examples (written by ingestion, described by ``schemas/raw/schema.pbtxt``):
  image   bytes  the photo, encoded as JPEG or PNG, already upright RGB (ingestion normalizes it)
  id      bytes  the photo's path relative to the input folder
  sha256  bytes  hex digest of the original file's bytes (dedup and the train/eval split)
  height  int64  pixel height of ``image``
  width   int64  pixel width of ``image``

Transformed examples (written by Transform, read by the Trainer; compact, see components/model/example_codec.py):
  lab_png        bytes  PNG at the model's size: L * 255/100, a + 128, b + 128 as uint8
  embedding_f16  int64  the classifier's 1000-way output as float16 bit patterns (fusion models only)

Decoded features (example_codec.decode: what the models, the Evaluator's ``transform_features`` and metrics see):
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

LAB_PNG = "lab_png"
EMBEDDING_F16 = "embedding_f16"

