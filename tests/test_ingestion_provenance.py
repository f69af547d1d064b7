"""Provenance (issue 14): each photo's ``.provenance.jsonl`` entry becomes features of its tf.Example.

From ``colornet fetch-unsplash`` against a local image service (127.0.0.1) through the real
pipeline's ExampleGen, StatisticsGen and ExampleValidator; sidecars written by hand, malformed
lines included; the curated schema as tf.Transform reads it.
"""
import json
import os

import tensorflow as tf
import tensorflow_data_validation as tfdv
from tensorflow_transform.tf_metadata import schema_utils
from tfx import v1 as tfx

from colornet.components.ingestion import provenance, summary
from colornet.components.ingestion.commands import ingest_folder
from colornet.components.ingestion.component import PhotoExampleGen
from colornet.components.ingestion import spans
from colornet.pipeline import cli
from colornet.schemas import RAW_SCHEMA_PATH, features

from ingestion_fixtures import (SEED_DIR, copy_photos, feature_value, output_uri, read_anomalies, read_examples,
                                run_local_pipeline, validated)
from unsplash_fixtures import FakeImageService, manifest_rows, photo_ids, tsv_text, write_dataset_zip

DATASET_ZIP = "unsplash-research-dataset-lite-latest.zip"


def _examples_by_id(examples_dir):
    examples = read_examples(os.path.join(examples_dir, "Split-train")) + read_examples(
        os.path.join(examples_dir, "Split-eval"))
    return {feature_value(example, features.ID).decode(): example for example in examples}


def _provenance_of(example):
    return {name: feature_value(example, name).decode() for name in features.PROVENANCE_FEATURES}


def test_fetched_photos_carry_their_provenance_through_the_pipeline(tmp_path, shared_data):
    bsds = sorted((shared_data / "bsds500" / "train").glob("*.jpg"))[:8]
    ids = photo_ids(len(bsds))
    manifest = write_dataset_zip(tmp_path / DATASET_ZIP, {"photos.tsv000": tsv_text(manifest_rows(zip(ids, bsds)))})
    images = tmp_path / "images"
    service = FakeImageService(dict(zip(ids, bsds)))
    try:
        assert cli.main(["fetch-unsplash", "--manifest", str(manifest), "--images", str(images),
                         "--base-url", service.url, "--width", "160", "--no-progress"]) == 0
    finally:
        service.close()
    hand_added = copy_photos(os.path.join(SEED_DIR, "train", "*.jpg"), str(tmp_path / "mine"), limit=2)
    assert spans.add_images(tmp_path / "mine", images) == (2, 2)

    example_gen = PhotoExampleGen(input_base=str(images))  # the whole folder: both spans
    schema = tfx.components.ImportSchemaGen(schema_file=str(RAW_SCHEMA_PATH))
    root = run_local_pipeline(tmp_path, [example_gen, schema,
                                         *validated(example_gen.outputs["examples"], "photos", schema.outputs["schema"])])

    examples_dir = output_uri(root, example_gen.id, "examples")
    by_id = _examples_by_id(examples_dir)
    assert sorted(by_id) == sorted([f"span-1/{photo_id}.jpg" for photo_id in ids]
                                   + [f"span-2/{os.path.basename(path)}" for path in hand_added])
    for photo_id in ids:
        assert _provenance_of(by_id[f"span-1/{photo_id}.jpg"]) == {
            "source": "unsplash", "source_id": photo_id, "source_url": f"https://unsplash.com/photos/{photo_id}",
            "author": f"Jane Doe {photo_id}", "author_username": f"user_{photo_id}",
            "license": "Unsplash Dataset Terms", "dataset": DATASET_ZIP[:-len(".zip")]}
    for path in hand_added:
        assert set(_provenance_of(by_id[f"span-2/{os.path.basename(path)}"]).values()) == {""}
    result = json.loads(open(os.path.join(examples_dir, summary.SUMMARY_FILE_NAME)).read())
    assert (result["accepted"], result["provenance"], result["notes"]) == (10, {"unsplash": 8}, [])

    for split in ("train", "eval"):
        assert read_examples(os.path.join(examples_dir, f"Split-{split}")), f"no {split} examples: nothing validated"
        assert not read_anomalies(root, "ExampleValidator.photos", split).anomaly_info


def test_sidecars_belong_to_their_folder_and_malformed_lines_are_notes(tmp_path):
    images = tmp_path / "images"
    top = copy_photos(os.path.join(SEED_DIR, "train", "*.jpg"), str(images), limit=3)
    os.makedirs(images / "sub")
    os.rename(top[2], images / "sub" / os.path.basename(top[0]))  # the same file name as a top-level photo
    first, second = (os.path.basename(path) for path in top[:2])
    good = {"file": first, "source": "unsplash", "source_id": "abc", "author": "Jane Doe", "author_username": "jd",
            "url": "https://unsplash.com/photos/abc", "image_url": "https://images.unsplash.com/photo-abc",
            "license": "Unsplash Dataset Terms", "dataset": "lite", "camera": "ignored"}
    (images / provenance.SIDECAR_NAME).write_text("\n".join([
        json.dumps(good),
        "{not json",
        "[1, 2]",
        json.dumps({"source": "unsplash"}),
        json.dumps({**good, "author": "Someone Else"}),
        json.dumps({"file": second, "author": 5}),
        json.dumps({"file": "removed-since.jpg", "source": "unsplash"}),
        b"\xff\xfe".decode("latin-1"),
    ]) + "\n", encoding="latin-1")
    (images / "sub" / provenance.SIDECAR_NAME).write_text(json.dumps({"file": first, "source": "own camera",
                                                                      "author": "Me"}) + "\n")

    result = ingest_folder(str(images), str(tmp_path / "out"))

    by_id = _examples_by_id(str(tmp_path / "out"))
    assert _provenance_of(by_id[first]) == {
        "source": "unsplash", "source_id": "abc", "source_url": "https://unsplash.com/photos/abc",
        "author": "Jane Doe", "author_username": "jd", "license": "Unsplash Dataset Terms", "dataset": "lite"}
    assert set(_provenance_of(by_id[second]).values()) == {""}
    assert _provenance_of(by_id[f"sub/{first}"]) == {name: "" for name in features.PROVENANCE_FEATURES} | {
        "source": "own camera", "author": "Me"}
    assert result.provenance == {"own camera": 1, "unsplash": 1}
    notes = {note["where"]: note["detail"] for note in result.notes}
    assert sorted(notes) == [f".provenance.jsonl:{line}" for line in (2, 3, 4, 5, 6, 8)]
    assert notes[".provenance.jsonl:2"].startswith("not JSON")
    assert notes[".provenance.jsonl:3"] == "a JSON list, not an object"
    assert notes[".provenance.jsonl:4"] == 'no "file" (the photo\'s file name)'
    assert notes[".provenance.jsonl:5"] == f"a second entry for {first!r}: the first one counts"
    assert notes[".provenance.jsonl:6"] == "not a string: author"
    assert notes[".provenance.jsonl:8"].startswith("not UTF-8")
    assert "Provenance: 2 of 3 accepted photos (own camera 1, unsplash 1)." in result.describe()


def test_transform_reads_every_raw_feature_as_a_dense_one_value_tensor():
    """tf.Transform builds its parsing spec from the curated schema: a feature without a fixed shape
    would become a VarLenFeature (a SparseTensor in preprocessing_fn)."""
    spec = schema_utils.schema_as_feature_spec(tfdv.load_schema_text(str(RAW_SCHEMA_PATH))).feature_spec
    assert set(spec) == set(features.RAW_FEATURES)
    for name in features.PROVENANCE_FEATURES:
        assert spec[name] == tf.io.FixedLenFeature([1], tf.string), name
