"""The Evaluator's TFMA configuration: which metrics, on which signature, and when a model is blessed."""
import tensorflow_model_analysis as tfma

from colornet.components import features

_EVAL_METRICS_MODULE = "colornet.components.eval_metrics"


def eval_config(max_ab_mse_vs_gray=1.0, regression_tolerance=0.0):
    """TFMA: ab-MSE and its ratio to the grayscale baseline, with the blessing thresholds.

    Blessed only if ab-MSE / gray ab-MSE <= ``max_ab_mse_vs_gray`` and ab-MSE is not worse than the
    last blessed model's by more than ``regression_tolerance`` (skipped when there is none yet).
    """
    beats_gray = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(upper_bound={"value": max_ab_mse_vs_gray}))
    no_regression = tfma.MetricThreshold(
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.LOWER_IS_BETTER,
            absolute={"value": regression_tolerance}))
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(
            signature_name="evaluate",
            preprocessing_function_names=["transform_features"],
            label_key=features.AB)],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            tfma.MetricConfig(class_name="AbMse", module=_EVAL_METRICS_MODULE, threshold=no_regression),
            tfma.MetricConfig(class_name="AbMseVsGray", module=_EVAL_METRICS_MODULE, threshold=beats_gray),
        ])],
    )
