"""Pipeline commands that need no training run: Kubeflow compilation, span folders, config checks."""
import json

import pytest

from colornet.pipeline import cli, kubeflow_runner, spans
from colornet.pipeline.config import PipelineConfig

EVERY_COMPONENT = {"PhotoExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator",
                   "Transform", "Trainer", "Evaluator", "Pusher"}


def _compile(tmp_path, *flags):
    output = tmp_path / "pipeline.json"
    assert cli.main(["compile", "--images", "gs://bucket/photos", "--workdir", "gs://bucket/root",
                     "--output", str(output), "--container-image", "example.org/colornet:1", *flags]) == 0
    spec = json.loads(output.read_text())["pipelineSpec"]
    return spec["root"]["dag"]["tasks"], spec["deploymentSpec"]["executors"]


def test_compiled_dag_has_every_component_and_the_trainer_gpu(tmp_path):
    tasks, executors = _compile(tmp_path, "--trainer-gpu", "NVIDIA_TESLA_T4", "--trainer-gpu-count", "2")
    assert EVERY_COMPONENT <= set(tasks)
    assert {"Transform", "ImportSchemaGen"} <= set(tasks["Trainer"]["dependentTasks"])
    assert set(tasks["Pusher"]["dependentTasks"]) >= {"Evaluator", "Trainer"}
    trainer = executors["Trainer_executor"]["container"]
    assert trainer["image"] == "example.org/colornet:1"
    assert trainer["resources"]["accelerator"] == {"type": "NVIDIA_TESLA_T4", "count": "2"}
    assert "accelerator" not in executors["Transform_executor"]["container"].get("resources", {})


def test_compiled_dag_without_gpu_requests_none(tmp_path):
    _, executors = _compile(tmp_path)
    assert "accelerator" not in executors["Trainer_executor"]["container"]["resources"]


def test_kubeflow_refuses_a_rolling_window(tmp_path):
    config = PipelineConfig(images_dir="gs://b/p", workdir="gs://b/r", spans=True, rolling_spans=3)
    with pytest.raises(ValueError, match="rolling span window"):
        kubeflow_runner.compile_pipeline(config, str(tmp_path / "p.json"))


def test_rolling_window_needs_span_folders():
    with pytest.raises(ValueError, match="span folders"):
        PipelineConfig(images_dir="x", workdir="y", rolling_spans=2)


def test_add_images_creates_the_next_span_whole(tmp_path):
    batch = tmp_path / "batch"
    (batch / "nested").mkdir(parents=True)
    (batch / "a.jpg").write_bytes(b"a")
    (batch / "nested" / "b.png").write_bytes(b"b")
    root = tmp_path / "images"

    assert spans.add_images(batch, root) == (1, 2)
    assert spans.add_images(batch, root) == (2, 2)
    assert spans.span_numbers(root) == [1, 2]
    assert (root / "span-2" / "nested" / "b.png").read_bytes() == b"b"
    assert sorted(path.name for path in root.iterdir()) == ["span-1", "span-2"]  # no staging left


def test_add_images_refuses_an_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no files"):
        spans.add_images(tmp_path / "empty", tmp_path / "images")


def test_retrain_without_spans_explains(tmp_path, capsys):
    (tmp_path / "images").mkdir()
    assert cli.main(["retrain", "--images", str(tmp_path / "images"), "--workdir", str(tmp_path / "w")]) == 2
    assert "colornet add-images" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["run", "retrain"])
def test_a_missing_photo_folder_is_reported_plainly(tmp_path, capsys, command):
    missing = tmp_path / "no-such-folder"
    assert cli.main([command, "--images", str(missing), "--workdir", str(tmp_path / "w")]) == 2
    assert f"Photo folder not found: {missing}" in capsys.readouterr().out
    assert not (tmp_path / "w").exists()
