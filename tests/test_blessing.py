"""The Evaluator's metrics and blessing: TFMA on a tiny exported model checked against numpy, then
real pipeline runs (LocalDagRunner) where only a model that beats gray and does not regress is pushed."""
import pathlib

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from skimage import color, metrics as skmetrics

from colornet.components.evaluation import evaluator as evaluation
from colornet.pipeline.config import BlessingConfig
from colornet.schemas import features, serving_contract as contract
from colornet.schemas.serving_contract import loadable_versions
from export_fixtures import SIZE, encode, exported_model, raw_example, sample_photos

EVAL_SIZES = [(40, 48), (64, 40), (33, 57), (50, 50), (80, 60)]


def _numpy_metrics(loaded, encoded):
    """ab-MSE, its ratio to gray and mean PSNR, from the signatures' tensors, with numpy and skimage."""
    examples = tf.constant([raw_example(image) for image in encoded])
    transformed = loaded.signatures["transform_features"](examples=examples)
    lightness = (transformed[features.L].numpy().reshape(-1, SIZE, SIZE, 1) + 1.0) * 50.0
    ab_true = transformed[features.AB].numpy().reshape(-1, SIZE, SIZE, 2) * 128.0
    ab_pred = loaded.signatures["colorize_ab"](images=tf.constant(encoded))[contract.AB_OUTPUT].numpy()
    ab_pred = np.clip(ab_pred, -128.0, 127.0)

    def psnr(ab):
        return np.mean([skmetrics.peak_signal_noise_ratio(
            color.lab2rgb(np.concatenate([lum, true], -1)), color.lab2rgb(np.concatenate([lum, guess], -1)),
            data_range=1.0) for lum, true, guess in zip(lightness, ab_true, ab)])

    ab_mse = np.mean((ab_true.astype(np.float64) - ab_pred) ** 2)
    return {"ab_mse": ab_mse, "ab_mse_vs_gray": ab_mse / np.mean(ab_true.astype(np.float64) ** 2),
            "psnr": psnr(ab_pred), "gray_psnr": psnr(np.zeros_like(ab_pred))}


def test_tfma_metrics_match_numpy_and_blessing_follows_the_gray_ratio(tmp_path_factory, shared_data, tmp_path):
    export_dir = exported_model(tmp_path_factory.getbasetemp() / "export", shared_data)
    encoded = [encode(photo, "JPEG" if index % 2 else "PNG")
               for index, photo in enumerate(sample_photos(shared_data, EVAL_SIZES))]
    data = tmp_path / "eval.tfrecord"
    with tf.io.TFRecordWriter(str(data)) as writer:
        for image in encoded:
            writer.write(raw_example(image))

    config = evaluation.eval_config()
    result = tfma.run_model_analysis(
        eval_shared_model=tfma.default_eval_shared_model(  # a first run, as TFX's Evaluator runs it
            eval_saved_model_path=str(export_dir), eval_config=config, rubber_stamp=True),
        eval_config=config, data_location=str(data), output_path=str(tmp_path / "tfma"))
    ((_, sliced),) = result.slicing_metrics
    measured = {name: value["doubleValue"] for name, value in sliced[""][""].items()}
    expected = _numpy_metrics(tf.saved_model.load(str(export_dir)), encoded)

    assert measured["example_count"] == len(encoded)
    for name in ("ab_mse", "ab_mse_vs_gray"):
        assert measured[name] == pytest.approx(expected[name], rel=1e-4), name
    for name in ("psnr", "gray_psnr"):  # TF's Lab -> RGB against skimage's, in float32
        assert measured[name] == pytest.approx(expected[name], abs=0.05), name
    assert tfma.load_validation_result(str(tmp_path / "tfma")).validation_ok == (expected["ab_mse_vs_gray"] < 1.0)


def test_gray_threshold_is_strict_and_regression_is_lower_is_better():
    config = evaluation.eval_config(BlessingConfig(max_ab_mse_vs_gray=1.0, regression_tolerance=2.5))
    thresholds = {metric.class_name: metric.threshold for metric in config.metrics_specs[0].metrics}
    upper = thresholds["AbMseVsGray"].value_threshold.upper_bound.value
    assert upper < 1.0 and upper == pytest.approx(1.0)
    change = thresholds["AbMse"].change_threshold
    assert change.direction == tfma.MetricDirection.LOWER_IS_BETTER and change.absolute.value == 2.5


# --- Real pipeline runs, one workdir: garbage model (first run), good model, regressed model. ---

GOOD = {"variant": "alpha", "image_size": 32, "learning_rate": 3e-3}
GARBAGE = {"variant": "alpha", "image_size": 32, "learning_rate": 10.0}  # one step saturates tanh: ab = +-128
REGRESSED = {"variant": "alpha", "image_size": 32, "learning_rate": 1e-3}


def _new_outputs(config, component, output, seen):
    """Output folders of ``component`` that appeared since ``seen`` (a set, updated)."""
    paths = set((pathlib.Path(config.pipeline_root) / component / output).glob("*"))
    new = sorted(paths - seen)
    seen |= paths
    return new


def _failed_metrics(evaluation_dir):
    result = tfma.load_validation_result(str(evaluation_dir))
    return {failure.metric_key.name
            for slice_failures in result.metric_validations_per_slice for failure in slice_failures.failures}


@pytest.fixture(scope="module")
def pipeline_runs(duotone_photos, tmp_path_factory):
    """Three runs of the real pipeline in one workdir; per run: (blessed, failed metrics, versions after)."""
    from colornet.pipeline import local_runner
    from colornet.pipeline.config import PipelineConfig

    workdir = tmp_path_factory.mktemp("blessing")
    runs = [
        dict(model=GARBAGE, train_steps=2),
        dict(model=GOOD, train_steps=80),
        # Beats gray or not, only the change threshold may stop it: a few steps from scratch.
        dict(model=REGRESSED, train_steps=2, blessing={"max_ab_mse_vs_gray": 1e6}),
    ]
    blessings, evaluations, outcomes = set(), set(), []
    for run in runs:
        config = PipelineConfig(
            images_dir=str(duotone_photos[0].parent), workdir=str(workdir), warm_start=False,
            training={"batch_size": 4, "epochs": 1, "augment": False, "seed": 1}, eval_steps=1,
            beam_args=["--direct_running_mode=in_memory"], **run)
        local_runner.run(config)
        (blessing,) = _new_outputs(config, "Evaluator", "blessing", blessings)
        (evaluation_dir,) = _new_outputs(config, "Evaluator", "evaluation", evaluations)
        outcomes.append(((blessing / "BLESSED").exists(), _failed_metrics(evaluation_dir),
                         loadable_versions(config.serving_dir)))
    return outcomes


@pytest.mark.slow
def test_first_model_worse_than_gray_is_not_pushed(pipeline_runs):
    blessed, failed, versions = pipeline_runs[0]
    assert not blessed
    assert "ab_mse_vs_gray" in failed
    assert versions == []


@pytest.mark.slow
def test_model_that_beats_gray_is_pushed(pipeline_runs):
    blessed, failed, versions = pipeline_runs[1]
    assert blessed and not failed
    assert len(versions) == 1


@pytest.mark.slow
def test_model_worse_than_the_last_blessed_one_is_not_pushed(pipeline_runs):
    blessed, failed, versions = pipeline_runs[2]
    assert not blessed
    assert failed == {"ab_mse"}  # the change threshold, not the gray ratio (loosened for this run)
    assert versions == pipeline_runs[1][2]
