"""Names of the features that flow between stages: one place, so stages cannot drift apart.

What the served model takes and returns is the other contract: ``serving_contract``.

Raw examples (written by ingestion, described by ``schemas/raw/schema.pbtxt``):
  image   bytes  the photo, encoded as JPEG or PNG, already upright RGB (ingestion normalizes it)
  id      bytes  the photo's path relative to the input folder
  sha256  bytes  hex digest of the original file's bytes (dedup and the train/eval split)
  height  int64  pixel height of ``image``
  width   int64  pixel width of ``image``
  Provenance, from the ``.provenance.jsonl`` beside the photo (``components/ingestion/provenance.py``);
  every example has them all, empty for a photo without an entry (e.g. added by hand):
  source           bytes  where the photo came from, e.g. "unsplash"
  source_id        bytes  its id there (Unsplash's photo_id)
  source_url       bytes  its page there, e.g. https://unsplash.com/photos/<id>
  author           bytes  the photographer's name
  author_username  bytes  the photographer's user name there (https://unsplash.com/@<username>)
  license          bytes  the terms the photo was obtained under, e.g. "Unsplash Dataset Terms"
  dataset          bytes  the dataset it came in, e.g. "unsplash-research-dataset-lite-latest"

Transformed examples (written by Transform, read by the Trainer; compact, see components/model/example_codec.py):
  lab_png        bytes  PNG at the model's size: L * 255/100, a + 128, b + 128 as uint8
  embedding_f16  int64  the classifier's 1000-way output as float16 bit patterns (models that fuse the classifier)

Decoded features (example_codec.decode: what the models, the Evaluator's ``transform_features`` and metrics see):
  L       float  lightness at the model's size, scaled to [-1, 1], shape [size, size, 1] flattened
  ab      float  chroma at the model's size, divided by 128, shape [size, size, 2] flattened
  embedding float the classifier's 1000-way output for the photo (models that fuse the classifier)
"""

IMAGE = "image"
ID = "id"
SHA256 = "sha256"
HEIGHT = "height"
WIDTH = "width"
SOURCE = "source"
SOURCE_ID = "source_id"
SOURCE_URL = "source_url"
AUTHOR = "author"
AUTHOR_USERNAME = "author_username"
LICENSE = "license"
DATASET = "dataset"
PROVENANCE_FEATURES = (SOURCE, SOURCE_ID, SOURCE_URL, AUTHOR, AUTHOR_USERNAME, LICENSE, DATASET)
RAW_FEATURES = (IMAGE, ID, SHA256, HEIGHT, WIDTH, *PROVENANCE_FEATURES)

L = "L"
AB = "ab"
EMBEDDING = "embedding"

LAB_PNG = "lab_png"
EMBEDDING_F16 = "embedding_f16"

