"""Ingestion in real LocalDagRunner pipelines: the curated raw schema against real and broken data, and spans."""
import os

import pytest
import tensorflow as tf
from tfx import v1 as tfx

from colornet.schemas import features
from colornet.components.ingestion import provenance
from colornet.components.ingestion.component import PhotoExampleGen, span_input_config
from colornet.schemas import RAW_SCHEMA_PATH
from colornet.components.ingestion.summary import SUMMARY_FILE_NAME, IngestionSummary

from ingestion_fixtures import (DATA_DIR, SEED_DIR, copy_photos, feature_value, output_uri, read_anomalies, read_examples,
                                run_local_pipeline, validated)


def write_examples_without_image(folder):
    """What a broken ingestion would produce: every raw feature but the image."""
    os.makedirs(folder)
    with tf.io.TFRecordWriter(os.path.join(folder, "examples.gz"), options="GZIP") as writer:
        for i in range(6):
            example = tf.train.Example()
            example.features.feature[features.ID].bytes_list.value.append(f"photo-{i}.jpg".encode())
            example.features.feature[features.SHA256].bytes_list.value.append(f"{i:064x}".encode())
            example.features.feature[features.HEIGHT].int64_list.value.append(256)
            example.features.feature[features.WIDTH].int64_list.value.append(256)
            for name, value in provenance.example_values(None).items():
                example.features.feature[name].bytes_list.value.append(value.encode())
            writer.write(example.SerializeToString())


@pytest.mark.slow  # ~40 s: two StatisticsGen + ExampleValidator runs
def test_raw_schema_passes_good_photos_and_explains_a_missing_image(tmp_path):
    images = tmp_path / "images"
    copy_photos(os.path.join(SEED_DIR, "train", "*.jpg"), str(images), limit=6)
    copy_photos(os.path.join(SEED_DIR, "alpha", "*.jpg"), str(images / "alpha"))
    write_examples_without_image(str(tmp_path / "broken"))

    photos = PhotoExampleGen(input_base=str(images))
    broken = tfx.components.ImportExampleGen(input_base=str(tmp_path / "broken")).with_id("ImportExampleGen.broken")
    schema = tfx.components.ImportSchemaGen(schema_file=str(RAW_SCHEMA_PATH))
    root = run_local_pipeline(tmp_path, [
        photos, broken, schema,
        *validated(photos.outputs["examples"], "photos", schema.outputs["schema"]),
        *validated(broken.outputs["examples"], "broken", schema.outputs["schema"]),
    ])

    for split in ("train", "eval"):
        assert not read_anomalies(root, "ExampleValidator.photos", split).anomaly_info
    anomalies = read_anomalies(root, "ExampleValidator.broken", "train")
    assert set(anomalies.anomaly_info) == {features.IMAGE}
    explanation = anomalies.anomaly_info[features.IMAGE]
    print("Anomaly a human reads:", explanation.short_description, "|", explanation.description)
    assert "missing" in explanation.short_description.lower() or "dropped" in explanation.short_description.lower()
    assert explanation.description


def test_latest_span_by_default_and_older_spans_by_range_config(tmp_path):
    images = tmp_path / "images"
    copy_photos(os.path.join(SEED_DIR, "train", "*.jpg"), str(images / "span-1"), limit=2)
    copy_photos(os.path.join(SEED_DIR, "train", "*.jpg"), str(images / "span-2" / "nested"), limit=5)
    latest = PhotoExampleGen(input_base=str(images), input_config=span_input_config()).with_id("latest")
    older = PhotoExampleGen(
        input_base=str(images), input_config=span_input_config(),
        range_config=tfx.proto.RangeConfig(static_range=tfx.proto.StaticRange(start_span_number=1, end_span_number=1)),
    ).with_id("older")
    root = run_local_pipeline(tmp_path, [latest, older])

    def ingested_ids(component_id):
        uri = output_uri(root, component_id, "examples")
        examples = read_examples(os.path.join(uri, "Split-train")) + read_examples(os.path.join(uri, "Split-eval"))
        return sorted(feature_value(e, features.ID).decode() for e in examples)

    assert [i.split("/")[0] for i in ingested_ids("latest")] == ["span-2"] * 5
    assert all(i.startswith("span-2/nested/") for i in ingested_ids("latest"))
    assert [i.split("/")[0] for i in ingested_ids("older")] == ["span-1"] * 2


def _project_files():
    """Every file the ExampleGen should see under ../shared/data (hidden entries aside), by id."""
    files = []
    for folder, subfolders, names in os.walk(DATA_DIR):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        files += [os.path.relpath(os.path.join(folder, name), DATA_DIR) for name in names if not name.startswith(".")]
    return sorted(files)


def _black_and_white(photo_id):
    """By the project's own measure (``photo.colorfulness`` on the upright RGB photo), whatever folder it is in."""
    from PIL import Image

    from colornet.components.ingestion import photo
    from colornet.schemas.config import IngestionConfig

    with Image.open(os.path.join(DATA_DIR, photo_id)) as image:
        return photo.colorfulness(photo.upright_rgb(image)) < IngestionConfig().grayscale_threshold


@pytest.mark.slow  # ~1,300 photos through a LocalDagRunner ExampleGen, and each measured again here
def test_project_photo_tree_through_the_example_gen(tmp_path):
    """../shared/data as users would point at it: nested folders, a README, B&W photos (some stored as RGB),
    PNGs named .jpg. Expectations come from the files themselves, not from a list of folders."""
    example_gen = PhotoExampleGen(input_base=DATA_DIR)
    root = run_local_pipeline(tmp_path, [example_gen])

    uri = output_uri(root, example_gen.id, "examples")
    result = IngestionSummary.read(os.path.join(uri, SUMMARY_FILE_NAME))
    files = _project_files()
    photos = [photo_id for photo_id in files if not photo_id.endswith(".md")]
    assert result.total == len(files)
    assert {r["id"]: r["reason"] for r in result.rejected if r["reason"] != "grayscale"} == {
        photo_id: "not_an_image" for photo_id in files if photo_id.endswith(".md")}
    grayscale = sorted(r["id"] for r in result.rejected if r["reason"] == "grayscale")
    assert grayscale == [photo_id for photo_id in photos if _black_and_white(photo_id)]
    assert any(photo_id.startswith("imagenet-samples/") for photo_id in grayscale)
    train = read_examples(os.path.join(uri, "Split-train"))
    evaluation = read_examples(os.path.join(uri, "Split-eval"))
    ids = {feature_value(e, features.ID).decode() for e in train + evaluation}
    assert {f"seed-unsplash/alpha/{n}" for n in ("man.jpg", "swim.jpg", "woman.jpg")} <= ids
    assert result.accepted == len(ids) == len(photos) - len(grayscale)
    assert 0.25 < len(evaluation) / len(ids) < 0.42    # 2:1 by content hash
