"""The Evaluator's metrics and blessing: TFMA on a tiny exported model checked against numpy (and Lite0's
forward passes counted), then real pipeline runs (LocalDagRunner) where only a model that beats gray AND the
best constant color, and does not regress, is pushed: a model that learned one tint is refused."""
import pathlib

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from skimage import color, metrics as skmetrics
from tensorflow_model_analysis.proto import validation_result_pb2

import local_training
from colornet.components.evaluation import evaluator as evaluation, metrics
from colornet.components.model import lab
from colornet.schemas.config import BlessingConfig, pipeline_config
from colornet.schemas import features, serving_contract as contract
from colornet.schemas.serving_contract import loadable_versions
from conftest import write_small_photos
from export_fixtures import SIZE, encode, exported_model, sample_photos, transform_graph_dir, transformed_examples

EVAL_SIZES = [(40, 48), (64, 40), (33, 57), (50, 50), (80, 60)]


def _signature_lab(loaded, examples, encoded):
    """The photos' L, true ab and the model's ab at the model's size, in Lab units, from the signatures."""
    transformed = loaded.signatures[contract.TRANSFORM_SIGNATURE](examples=tf.constant(examples))
    lightness = (transformed[features.L].numpy().reshape(-1, SIZE, SIZE, 1) + 1.0) * 50.0
    ab_true = transformed[features.AB].numpy().reshape(-1, SIZE, SIZE, 2) * 128.0
    ab_pred = loaded.signatures["colorize_ab"](images=tf.constant(encoded))[contract.AB_OUTPUT].numpy()
    return lightness, ab_true, np.clip(ab_pred, -128.0, 127.0)


def _numpy_metrics(loaded, examples, encoded):
    """ab-MSE, its ratio to gray and mean PSNR, from the signatures' tensors, with numpy and skimage."""
    lightness, ab_true, ab_pred = _signature_lab(loaded, examples, encoded)

    def psnr(ab):
        return np.mean([skmetrics.peak_signal_noise_ratio(
            color.lab2rgb(np.concatenate([lum, true], -1)), color.lab2rgb(np.concatenate([lum, guess], -1)),
            data_range=1.0) for lum, true, guess in zip(lightness, ab_true, ab)])

    ab_true = ab_true.astype(np.float64)
    ab_mse = np.mean((ab_true - ab_pred) ** 2)
    constant_mse = np.mean((ab_true - ab_true.reshape(-1, 2).mean(axis=0)) ** 2)
    return {"ab_mse": ab_mse, "ab_mse_vs_gray": ab_mse / np.mean(ab_true ** 2), "constant_ab_mse": constant_mse,
            "ab_mse_vs_constant": ab_mse / constant_mse, "psnr": psnr(ab_pred), "gray_psnr": psnr(np.zeros_like(ab_pred))}


def test_tfma_metrics_match_numpy_and_blessing_follows_both_baselines(tmp_path_factory, shared_data, tmp_path,
                                                                    monkeypatch):
    # Lite0's builds and the photos it classifies, in this one evaluation (a fresh, unbuilt shared classifier).
    builds, photos_classified = [], []
    build_lite0, top5 = metrics.efficientnet_lite0.build_lite0, metrics.Classifier.top5
    monkeypatch.setattr(metrics.efficientnet_lite0, "build_lite0", lambda *args: builds.append(1) or build_lite0(*args))
    monkeypatch.setattr(metrics.Classifier, "top5",
                        lambda self, rgb: photos_classified.append(int(rgb.shape[0])) or top5(self, rgb))
    monkeypatch.setattr(metrics._SemanticStatistics, "_classifier", metrics.Classifier())

    export_dir = exported_model(tmp_path_factory.getbasetemp() / "export", shared_data)
    encoded = [encode(photo, "JPEG" if index % 2 else "PNG")
               for index, photo in enumerate(sample_photos(shared_data, EVAL_SIZES))]
    examples = transformed_examples(transform_graph_dir(tmp_path_factory.getbasetemp() / "export"), encoded)
    data = tmp_path / "eval.tfrecord"  # what the Evaluator reads: the examples Transform wrote
    with tf.io.TFRecordWriter(str(data)) as writer:
        for example in examples:
            writer.write(example)

    blessing = BlessingConfig(min_eval_photos=len(encoded) + 1)
    config = evaluation.eval_config(blessing)
    result = tfma.run_model_analysis(
        eval_shared_model=tfma.default_eval_shared_model(  # a first run, as TFX's Evaluator runs it
            eval_saved_model_path=str(export_dir), eval_config=config, rubber_stamp=True),
        eval_config=config, data_location=str(data), output_path=str(tmp_path / "tfma"))
    ((_, sliced),) = result.slicing_metrics
    measured = {name: value.get("doubleValue", value.get("boundedValue", {}).get("value"))
                for name, value in sliced[""][""].items()}
    # The four classifier-test metrics share one Lite0 and each batch's forward passes: every photo goes through
    # it once per candidate (original, model, gray), not once per metric too.
    assert len(builds) == 1 and sum(photos_classified) == 3 * len(encoded)
    loaded = tf.saved_model.load(str(export_dir))
    expected = _numpy_metrics(loaded, examples, encoded)

    assert measured["example_count"] == len(encoded)
    assert {metric().name for metric in metrics.STREAMING_METRICS} <= set(measured)
    for name in ("ab_mse", "ab_mse_vs_gray", "constant_ab_mse", "ab_mse_vs_constant"):
        assert measured[name] == pytest.approx(expected[name], rel=1e-4), name
    for name in ("psnr", "gray_psnr"):  # TF's Lab -> RGB against skimage's, in float32
        assert measured[name] == pytest.approx(expected[name], abs=0.05), name
    assert measured["false_color_vs_original"] >= 0.0
    lightness, ab_true, ab_pred = _signature_lab(loaded, examples, encoded)
    classifier = metrics._SemanticStatistics._classifier

    def classes(ab):
        return classifier.top5(lab.lab_to_rgb(tf.constant(np.concatenate([lightness, ab], -1), tf.float32)))

    original = classes(ab_true)
    model_top1, model_top5 = (float(np.mean(values)) for values in metrics.agreement(original, classes(ab_pred)))
    gray_top1 = float(np.mean(metrics.agreement(original, classes(np.zeros_like(ab_true)))[0]))
    assert measured["top1_agreement"] == pytest.approx(model_top1)
    assert measured["top5_agreement"] == pytest.approx(model_top5)
    assert measured["gray_top1_agreement"] == pytest.approx(gray_top1)
    assert measured["top1_gain_over_gray"] == pytest.approx(model_top1 - gray_top1)
    # TFMA's confidence intervals (jackknife over photo buckets) are in the stored metrics the verdict reads.
    (stored,) = tfma.load_metrics(str(tmp_path / "tfma"))
    (ratio,) = [entry for entry in stored.metric_keys_and_values if entry.key.name == "ab_mse_vs_constant"]
    assert ratio.value.double_value.value == pytest.approx(measured["ab_mse_vs_constant"])  # what the verdict reads
    interval = ratio.confidence_interval
    assert interval.lower_bound.double_value.value <= measured["ab_mse_vs_constant"] \
        <= interval.upper_bound.double_value.value
    assert interval.upper_bound.double_value.value > interval.lower_bound.double_value.value
    validation = tfma.load_validation_result(str(tmp_path / "tfma"))
    failures = [evaluation._failure_line(failure)
                for per_slice in validation.metric_validations_per_slice for failure in per_slice.failures]
    # Five photos are too few for this gate, whatever the model: the verdict says so in words.
    assert not validation.validation_ok
    assert [line for line in failures if line.startswith("only ")] == [
        f"only {len(encoded)} eval photos, at least {len(encoded) + 1} needed: on fewer the ratios are noise "
        f"(more photos, or a larger --eval-percent)"]
    others = [line for line in failures if not line.startswith("only ")]
    expected_failures = {name for name, failed in (
        ("ab_mse_vs_gray", expected["ab_mse_vs_gray"] >= 1.0),
        ("ab_mse_vs_constant", expected["ab_mse_vs_constant"] >= 1.0),
        ("colorfulness_ratio", measured["colorfulness_ratio"] < blessing.min_colorfulness_ratio),
        ("top1_gain_upper_bound", measured["top1_gain_upper_bound"] < blessing.min_top1_gain_over_gray),
        ("false_color_vs_original", measured["false_color_vs_original"] > blessing.max_false_color_vs_original))
        if failed}
    assert {line.split()[0] for line in others} == expected_failures


def test_thresholds_are_strict_for_both_baselines_and_regression_is_lower_is_better():
    config = evaluation.eval_config(BlessingConfig(max_ab_mse_vs_gray=1.0, max_ab_mse_vs_constant=0.9,
                                                   min_colorfulness_ratio=0.3, regression_tolerance=0.05,
                                                   min_eval_photos=40, min_top1_gain_over_gray=0.05,
                                                   max_false_color_vs_original=1.5))
    thresholds = {metric.class_name: metric.threshold for metric in config.metrics_specs[0].metrics}
    for name, bound in (("AbMseVsGray", 1.0), ("AbMseVsConstant", 0.9)):
        upper = thresholds[name].value_threshold.upper_bound.value
        assert upper < bound and upper == pytest.approx(bound)
    assert thresholds["ColorfulnessRatio"].value_threshold.lower_bound.value == 0.3
    assert thresholds["ExampleCount"].value_threshold.lower_bound.value == 40
    assert thresholds["Top1GainUpperBound"].value_threshold.lower_bound.value == 0.05  # refused beyond chance only
    assert not thresholds["Top1GainOverGray"].HasField("value_threshold")
    assert thresholds["FalseColorVsOriginal"].value_threshold.upper_bound.value == 1.5  # at most: inclusive
    change = thresholds["AbMse"].change_threshold
    assert change.direction == tfma.MetricDirection.LOWER_IS_BETTER and change.relative.value == 0.05
    assert not change.HasField("absolute")
    assert config.options.compute_confidence_intervals.value
    unthresholded = evaluation.eval_config(BlessingConfig(min_colorfulness_ratio=0.0, min_top1_gain_over_gray=-1.0))
    assert not any(metric.HasField("threshold") for metric in unthresholded.metrics_specs[0].metrics
                   if metric.class_name in ("ColorfulnessRatio", "Top1GainUpperBound"))


def test_failure_lines_name_the_metric_and_say_what_the_semantic_and_regression_bounds_mean():
    thresholds = {metric.class_name: metric.threshold for metric in evaluation.eval_config().metrics_specs[0].metrics}

    def line(class_name, name, value):
        return evaluation._failure_line(validation_result_pb2.ValidationFailure(
            metric_key={"name": name}, metric_threshold=thresholds[class_name],
            metric_value={"double_value": {"value": value}}))

    assert line("Top1GainUpperBound", "top1_gain_upper_bound", -0.0123) == (
        "top1_gain_upper_bound -0.012 is below 0: the classifier recognises fewer colorized photos than gray ones, "
        "beyond chance (the top-1 gain's 95 % interval ends there)")
    assert line("AbMse", "ab_mse", 151.0) == "ab_mse is worse than the last blessed model's by more than 2.5 %"
    assert line("FalseColorVsOriginal", "false_color_vs_original", 2.0) == "false_color_vs_original 2.000 is above 1.5"


def _verdict(blessed, ratio, refuses_tints=True, failures=()):
    values = {"example_count": 30, "ab_mse": 150.0, "gray_ab_mse": 200.0, "constant_ab_mse": 150.0 / ratio,
              "ab_mse_vs_constant": ratio, "colorfulness_ratio": 0.6, "top1_agreement": 0.6,
              "gray_top1_agreement": 0.55, "false_color_vs_original": 1.1, "psnr": 24.0, "gray_psnr": 22.8}
    return evaluation.Verdict(blessed=blessed, values=values, failures=list(failures),
                              intervals={"ab_mse_vs_constant": [ratio - 0.1, ratio + 0.12]},
                              refuses_tints=refuses_tints)


def test_verdict_line_gives_the_interval_and_says_when_the_gate_is_a_demos():
    line = _verdict(True, 0.93).line()
    assert line.startswith("Evaluator: BLESSED, 30 eval photos, ab-MSE 150.0")
    assert "0.93x, 95 % interval 0.83-1.05" in line and "top-1 agreement 0.60 (gray 0.55)" in line
    demo = _verdict(True, 1.23, refuses_tints=False).line()
    assert demo.startswith("Evaluator: BLESSED by a demo's gate (it asks only to beat gray; 1.23x the best "
                           "constant color's ab-MSE: a tint)")
    refused = _verdict(False, 1.3, failures=["only 14 eval photos, at least 50 needed"]).line()
    assert refused.startswith("Evaluator: NOT BLESSED (only 14 eval photos, at least 50 needed")
    demo_gate = pipeline_config("demo", "photos", "work").blessing
    assert not demo_gate.refuses_tints and demo_gate.min_eval_photos == 1 and BlessingConfig().refuses_tints


# --- Real pipeline runs, one workdir: garbage, a tint, a colorizer, then a regressed model. ---

GOOD = {"variant": "alpha", "image_size": 32, "learning_rate": 3e-3}
GARBAGE = {"variant": "alpha", "image_size": 32, "learning_rate": 10.0}  # one step saturates tanh: ab = +-128
REGRESSED = {"variant": "alpha", "image_size": 32, "learning_rate": 1e-3}
WARM = (10.0, 30.0)  # the tint photos' mean (a, b): warm, as photos are on average


def _evaluator_execution(pipeline_root, execution, ratio, blessed):
    """What TFX's Evaluator execution ``execution`` writes, by hand (TFMA's record files and protos, through
    tf.io.gfile): its candidate's ab_mse_vs_constant with an interval, one failure when ``ratio`` >= 1, and
    BLESSED or NOT_BLESSED."""
    evaluation_dir = f"{pipeline_root}/{evaluation.EVALUATOR_ID}/evaluation/{execution}"
    blessing_dir = f"{pipeline_root}/{evaluation.EVALUATOR_ID}/blessing/{execution}"
    for folder in (evaluation_dir, blessing_dir):
        tf.io.gfile.makedirs(folder)
    key = tfma.metrics.MetricKey("ab_mse_vs_constant").to_proto()
    metrics_for_slice = tfma.MetricsForSlice(slice_key={}, metric_keys_and_values=[{
        "key": key, "value": {"double_value": {"value": ratio}},
        "confidence_interval": {"lower_bound": {"double_value": {"value": ratio - 0.1}},
                                "upper_bound": {"double_value": {"value": ratio + 0.1}}}}])
    (bound,) = [metric.threshold for metric in evaluation.eval_config().metrics_specs[0].metrics
                if metric.class_name == "AbMseVsConstant"]  # the gate's own threshold
    failures = [{"metric_key": key, "metric_threshold": bound, "metric_value": {"double_value": {"value": ratio}}}
                ] if ratio >= 1.0 else []
    validation = tfma.ValidationResult(validation_ok=not failures, metric_validations_per_slice=[
        {"failures": failures}] if failures else [])
    for name, record in (("metrics-00000-of-00001", metrics_for_slice), ("validations", validation)):
        with tf.io.TFRecordWriter(f"{evaluation_dir}/{name}.tfrecord") as writer:
            writer.write(record.SerializeToString())
    with tf.io.gfile.GFile(f"{blessing_dir}/{'BLESSED' if blessed else 'NOT_BLESSED'}", "w") as marker:
        marker.write("")


@pytest.mark.parametrize("remote", [False, True], ids=["local", "ram"])
def test_latest_verdict_reads_the_newest_execution_of_a_local_or_remote_root(tmp_path, remote):
    # ram://: TensorFlow's in-memory file system, a stand-in for gs:// (read through tf.io.gfile alone).
    root = f"ram://{tmp_path.name}/root" if remote else str(tmp_path / "root")
    assert evaluation.latest_verdict(root) is None  # before the first Evaluator run
    _evaluator_execution(root, 9, 1.2, blessed=False)
    _evaluator_execution(root, 10, 0.9, blessed=True)  # the newest: 10 > 9 as numbers, not as names
    verdict = evaluation.latest_verdict(root)
    assert verdict.blessed and verdict.failures == []
    assert verdict.values == {"ab_mse_vs_constant": pytest.approx(0.9)}
    assert verdict.intervals == {"ab_mse_vs_constant": [pytest.approx(0.8), pytest.approx(1.0)]}
    _evaluator_execution(root, 11, 1.2, blessed=False)
    refused = evaluation.latest_verdict(root)
    assert not refused.blessed and refused.failures == ["ab_mse_vs_constant 1.200 is not below 1"]


def warm_noise(rgb, _rng=np.random.default_rng(11)):
    """A photo's own L under a warm tint plus zero-mean random ab in 4x4 px blocks: nothing in the photo
    predicts the variation, so the best any model can learn is the tint, which beats gray but is the
    best constant color itself."""
    lightness = color.rgb2lab(rgb)[..., 0]
    height, width = lightness.shape
    blocks = _rng.uniform(-30.0, 30.0, size=(height // 4 + 1, width // 4 + 1, 2)) + WARM
    ab = np.repeat(np.repeat(blocks, 4, axis=0), 4, axis=1)[:height, :width]
    return (np.clip(color.lab2rgb(np.concatenate([lightness[..., None], ab], axis=-1)), 0, 1) * 255).round().astype(
        np.uint8)


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
def tint_photos(shared_data, tmp_path_factory):
    """Twelve real photos (BSDS500), at most 64 px a side, recolored by ``warm_noise``."""
    return write_small_photos(shared_data / "bsds500" / "train", tmp_path_factory.mktemp("tint_photos"),
                              12, 64, recolor=warm_noise)



@pytest.fixture(scope="module")
def pipeline_runs(duotone_photos, tint_photos, tmp_path_factory):
    """Four runs of the real pipeline in one workdir; per run: (blessed, failed metrics, versions after, config)."""
    from colornet.pipeline import local_runner
    from colornet.schemas.config import PipelineConfig

    workdir = tmp_path_factory.mktemp("blessing")
    duotone, tint = str(duotone_photos[0].parent), str(tint_photos[0].parent)
    few_photos = local_training.TINY_PHOTO_GATE  # twelve 32 px photos: an eval split of four, the wiring under test
    runs = [
        dict(images_dir=duotone, model=GARBAGE, train_steps=2, blessing=few_photos),
        dict(images_dir=tint, model=GOOD, train_steps=120, blessing=few_photos),
        dict(images_dir=duotone, model=GOOD, train_steps=80, blessing=few_photos),
        # Whatever it beats, only the change threshold may stop it: a few steps from scratch.
        dict(images_dir=duotone, model=REGRESSED, train_steps=2,
             blessing={**few_photos, "max_ab_mse_vs_gray": 1e6, "max_ab_mse_vs_constant": 1e6,
                       "min_colorfulness_ratio": 0.0}),
    ]
    blessings, evaluations, outcomes = set(), set(), []
    for run in runs:
        config = PipelineConfig(
            workdir=str(workdir), warm_start=False,
            training={"batch_size": 4, "epochs": 1, "augment": False, "seed": 1}, eval_steps=1,
            beam_args=["--direct_running_mode=in_memory"], **run)
        local_runner.run(config)
        (blessing,) = _new_outputs(config, "Evaluator", "blessing", blessings)
        (evaluation_dir,) = _new_outputs(config, "Evaluator", "evaluation", evaluations)
        outcomes.append(((blessing / "BLESSED").exists(), _failed_metrics(evaluation_dir),
                         loadable_versions(config.serving_dir), config))
    return outcomes


@pytest.mark.slow
def test_first_model_worse_than_gray_is_not_pushed(pipeline_runs):
    blessed, failed, versions, _ = pipeline_runs[0]
    assert not blessed
    assert "ab_mse_vs_gray" in failed
    assert versions == []


@pytest.mark.slow
def test_a_model_that_learned_one_tint_beats_gray_but_is_not_pushed(pipeline_runs):
    blessed, failed, versions, _ = pipeline_runs[1]
    assert not blessed
    assert "ab_mse_vs_constant" in failed and "ab_mse_vs_gray" not in failed
    assert versions == []


@pytest.mark.slow
def test_a_refused_run_says_why_and_a_rerun_says_why_nothing_happens(pipeline_runs, capsys):
    from colornet.pipeline import local_runner

    regressed = pipeline_runs[3][3]  # the last run: refused for regressing
    verdict = evaluation.latest_verdict(regressed.pipeline_root)
    assert not verdict.blessed
    assert verdict.failures == ["ab_mse is worse than the last blessed model's by more than 2.5 %"]
    assert local_runner.run(regressed) is False
    printed = capsys.readouterr().out
    assert "nothing to do; --no-cache runs it again" in printed and "Evaluator: NOT BLESSED" in printed
    assert verdict.line() in printed and "best constant" in printed


@pytest.mark.slow
def test_model_that_learned_image_dependent_color_is_pushed(pipeline_runs):
    blessed, failed, versions, _ = pipeline_runs[2]
    assert blessed and not failed
    assert len(versions) == 1


@pytest.mark.slow
def test_model_worse_than_the_last_blessed_one_is_not_pushed(pipeline_runs):
    blessed, failed, versions, _ = pipeline_runs[3]
    assert not blessed
    assert failed == {"ab_mse"}  # the change threshold alone (the others are loosened for this run)
    assert versions == pipeline_runs[2][2]
