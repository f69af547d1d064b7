"""PhotoExampleGen inside a real LocalDagRunner pipeline (SQLite metadata) on real photos."""
import io
import json
import os

from PIL import Image

from colornet.schemas import features
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


def test_custom_config_round_trips_and_rejects_typos():
    import pytest
    from tfx.utils import proto_utils
    from colornet.components.ingestion.component import to_custom_config
    from colornet.components.ingestion.executor import config_from_exec_properties
    from colornet.schemas.config import IngestionConfig

    options = {"min_side": 48, "max_pixels": 1_000_000, "max_side": 0, "grayscale_threshold": 7.5}
    as_json = proto_utils.proto_to_json(to_custom_config(options))
    assert config_from_exec_properties(as_json) == IngestionConfig(**options)
    assert config_from_exec_properties(None) == IngestionConfig()
    with pytest.raises(ValueError, match="max_sise"):
        PhotoExampleGen(input_base="/tmp", custom_config={"max_sise": 512})


def run_ingest_command(*argv):
    import argparse
    from colornet.components.ingestion import commands

    parser = argparse.ArgumentParser(prog="colornet")
    commands.register(parser.add_subparsers(required=True))
    args = parser.parse_args(["ingest", *map(str, argv)])
    return args.func(args)


def test_ingest_command_writes_splits_and_summary(tmp_path, capsys):
    import glob
    images = tmp_path / "images"
    copy_photos(os.path.join(SEED_DIR, "train", "*.jpg"), str(images / "a"), limit=4)
    copy_photos(os.path.join(SEED_DIR, "test", "*.jpg"), str(images / "b"), limit=1)

    assert run_ingest_command("--images", images, "--output", tmp_path / "out", "--max-side", 128) == 0
    assert "4 of 5 files accepted; rejected: grayscale 1" in capsys.readouterr().out
    records = glob.glob(str(tmp_path / "out" / "Split-*" / "*.gz"))
    assert {os.path.basename(os.path.dirname(p)) for p in records} <= {"Split-train", "Split-eval"}
    examples = read_examples(str(tmp_path / "out" / "Split-train")) + read_examples(str(tmp_path / "out" / "Split-eval"))
    assert len(examples) == 4 and all(feature_value(e, features.WIDTH) == 128 for e in examples)
    assert json.loads((tmp_path / "out" / SUMMARY_FILE_NAME).read_text())["accepted"] == 4


def test_ingest_command_fails_on_a_folder_without_photos(tmp_path, capsys):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "notes.txt").write_text("no photos here")
    assert run_ingest_command("--images", tmp_path / "images", "--output", tmp_path / "out") == 1
    assert "No usable photos" in capsys.readouterr().out
