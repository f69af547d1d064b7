"""PhotoExampleGen inside a real LocalDagRunner pipeline (SQLite metadata) on real photos."""
import io
import json
import os

import numpy as np
from PIL import Image

from colornet.components import features
from colornet.components.ingestion.component import PhotoExampleGen
from colornet.components.ingestion.summary import SUMMARY_FILE_NAME

from ingestion_fixtures import SEED_DIR, copy_photos, feature_value, output_uri, read_examples, run_local_pipeline


def test_photo_example_gen_in_local_dag_runner(tmp_path):
    images = tmp_path / "images"
    copy_photos(os.path.join(SEED_DIR, "train", "*.jpg"), str(images / "color"), limit=6)
    copy_photos(os.path.join(SEED_DIR, "test", "*.jpg"), str(images / "bw"), limit=2)
    copy_photos(os.path.join(SEED_DIR, "alpha", "man.jpg"), str(images / "nested" / "deeper"))

    example_gen = PhotoExampleGen(input_base=str(images), custom_config={"max_side": 300})
    root = run_local_pipeline(tmp_path, [example_gen])

    uri = output_uri(root, example_gen.id, "examples")
    examples = read_examples(os.path.join(uri, "Split-train")) + read_examples(os.path.join(uri, "Split-eval"))
    ids = sorted(feature_value(e, features.ID).decode() for e in examples)
    assert ids == sorted([f"color/{p}" for p in os.listdir(images / "color")] + ["nested/deeper/man.jpg"])
    for example in examples:
        assert set(example.features.feature) == set(features.RAW_FEATURES)
        decoded = Image.open(io.BytesIO(feature_value(example, features.IMAGE)))
        assert decoded.mode == "RGB"
        assert decoded.size == (feature_value(example, features.WIDTH), feature_value(example, features.HEIGHT))
        assert max(decoded.size) <= 300
    # The RGBA PNG named .jpg was composited on white and stored as PNG, downscaled 400 -> 300.
    man = next(e for e in examples if feature_value(e, features.ID) == b"nested/deeper/man.jpg")
    assert Image.open(io.BytesIO(feature_value(man, features.IMAGE))).format == "PNG"
    assert feature_value(man, features.WIDTH) == 300

    summary = json.loads((tmp_path / uri / SUMMARY_FILE_NAME).read_text())
    assert summary["accepted"] == 7
    assert summary["rejected_counts"] == {"grayscale": 2}
    assert not os.path.exists(os.path.join(uri, ".ingestion_outcomes"))
