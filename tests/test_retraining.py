"""Continuous retraining for real: spans arrive, the pipeline retrains warm, validates and
pushes; a running server switches to the new version without a restart; a span that makes
the model worse than gray is not pushed; spans that arrive together are all trained on."""
import io
import json
import time

import numpy as np
import pytest

import tensorflow as tf
from PIL import Image
from skimage import color

import local_training
from colornet.components.ingestion import spans
from colornet.pipeline import cli, local_runner
from colornet.pipeline.freshness import RECORD_FILE
from colornet.schemas.config import PipelineConfig
from colornet.serving.client import ColorizeClient
from colornet.schemas.serving_contract import loadable_versions
from colornet.serving.server import start_server

from conftest import duotone, write_small_photos

pytestmark = pytest.mark.slow


def color_noise(rgb, _rng=np.random.default_rng(7)):
    """A photo's own L under zero-mean random ab in 4x4 px blocks: nothing predicts its colors,
    so gray (ab = 0) is the best any model can do on it."""
    lightness = color.rgb2lab(rgb)[..., 0]
    height, width = lightness.shape
    blocks = _rng.uniform(-35.0, 35.0, size=(height // 4 + 1, width // 4 + 1, 2))
    ab = np.repeat(np.repeat(blocks, 4, axis=0), 4, axis=1)[:height, :width]
    lab = np.concatenate([lightness[..., None], ab], axis=-1)
    return (np.clip(color.lab2rgb(lab), 0, 1) * 255).round().astype(np.uint8)


def _add_span(root, source, tmp_path, name, recolor):
    batch = tmp_path / name
    write_small_photos(source, batch, 12, 64, recolor=recolor)
    return spans.add_images(batch, root)[0]


def _wait_for_version(client, version, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        served, _ = client.metadata()
        if served == version:
            return
        time.sleep(0.5)
    raise AssertionError(f"server still serves {client.metadata()[0]}, expected {version}")


def _gray_png():
    buffer = io.BytesIO()
    Image.fromarray(np.tile(np.linspace(0, 255, 48, dtype=np.uint8), (40, 1))).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def test_spans_retrain_push_and_hot_swap(shared_data, tmp_path):
    images = tmp_path / "images"
    config = PipelineConfig(
        images_dir=str(images), workdir=str(tmp_path / "work"), spans=True, rolling_spans=2,
        model={"variant": "alpha", "image_size": 32}, training={"batch_size": 4, "epochs": 1, "seed": 1},
        blessing=local_training.TINY_PHOTO_GATE,
        train_steps=60, eval_steps=1, beam_args=["--direct_running_mode=in_memory"])

    _add_span(images, shared_data / "bsds500" / "train", tmp_path, "batch1", duotone)
    local_runner.run(config)
    (version_a,) = loadable_versions(config.serving_dir)

    server = start_server(config.serving_dir, host="127.0.0.1", port=0, poll_seconds=0.5)
    try:
        with ColorizeClient(f"127.0.0.1:{server.port}") as client:
            assert client.metadata()[0] == version_a
            client.colorize([_gray_png()])

            _add_span(images, shared_data / "bsds500" / "val", tmp_path, "batch2", duotone)
            local_runner.run(config)
            versions = loadable_versions(config.serving_dir)
            assert versions[0] == version_a and len(versions) == 2
            version_b = versions[1]
            _wait_for_version(client, version_b)
            assert client.colorize([_gray_png()])

            _add_span(images, shared_data / "seed-unsplash" / "train", tmp_path, "batch3", color_noise)
            local_runner.run(config)
            assert loadable_versions(config.serving_dir) == [version_a, version_b]
            assert client.metadata()[0] == version_b
    finally:
        server.stop()


def test_a_retrain_ingests_and_trains_on_every_new_span(shared_data, tmp_path, capsys):
    """Two spans arrive before a retrain: both are ingested (ExampleGen takes one span per run) and
    both are trained on, and the run's record and output say so."""
    images, workdir = tmp_path / "images", tmp_path / "work"
    first = _add_span(images, shared_data / "bsds500" / "train", tmp_path, "batch1", duotone)
    second = _add_span(images, shared_data / "bsds500" / "val", tmp_path, "batch2", duotone)
    assert (first, second) == (1, 2)

    assert cli.main(["retrain", "--images", str(images), "--workdir", str(workdir), "--rolling-spans", "3",
                     "--variant", "alpha", "--image-size", "32", "--batch-size", "4", "--epochs", "1",
                     "--samples", "0", "--seed", "1", "--eval-percent", "33",
                     "--train-steps", "10", "--eval-steps", "1", *local_training.TINY_PHOTO_GATE_FLAGS]) == 0

    out = capsys.readouterr().out
    assert "Retrain: ingests spans [1, 2] (not ingested yet), trains on spans [1, 2]" in out
    assert "Trained on spans [1, 2]" in out
    record = json.loads((workdir / RECORD_FILE).read_text())
    assert record["ingested_spans"] == [1, 2] and record["trained_spans"] == [1, 2]
    # Both spans' photos reached Transform, so the Trainer: its examples hold every photo of both spans.
    summaries = [json.loads(path.read_text()) for path in
                 (workdir / "tfx" / "PhotoExampleGen" / "examples").glob("*/ingestion_summary.json")]
    assert sorted(summary["accepted"] for summary in summaries) == [12, 12]
    transformed = list((workdir / "tfx" / "Transform" / "transformed_examples").glob("*/*/Split-*/*.gz"))
    assert sum(1 for path in transformed for _ in tf.data.TFRecordDataset(str(path), "GZIP")) == 24
