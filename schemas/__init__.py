"""The contracts between stages, TensorFlow-free:

* ``raw/schema.pbtxt``: the curated schema of raw photo examples (ImportSchemaGen, ExampleValidator);
* ``features``: the names of raw and transformed features;
* ``serving_contract``: what a pushed model takes and returns, and how its versions are laid out;
* ``config``: every setting of a pipeline run, the contract each stage reads (below ``pipeline/`` and
  ``components/``, so the import picture reads top-down: pipeline -> components -> schemas).
"""
import pathlib

SCHEMA_DIR = pathlib.Path(__file__).resolve().parent
RAW_SCHEMA_DIR = SCHEMA_DIR / "raw"
RAW_SCHEMA_PATH = RAW_SCHEMA_DIR / "schema.pbtxt"
