"""The Evaluator's TFMA configuration: which metrics, on which signature, and when a model is blessed."""
import numpy as np
import tensorflow_model_analysis as tfma

from colornet.components import features, signatures

_EVAL_METRICS_MODULE = "colornet.components.eval_metrics"


def eval_config(max_ab_mse_vs_gray=1.0, regression_tolerance=0.0):
    """TFMA: ab-MSE, its ratio to the grayscale baseline and PSNR, with the blessing thresholds.

    Blessed only if (a) ab-MSE / gray ab-MSE is strictly below ``max_ab_mse_vs_gray`` (gray's
    ab-MSE is mean(ab^2) of the eval split, measured in the same pass) and (b) ab-MSE is not
    worse than the last blessed model's, re-measured on the same eval split, by more than
    ``regression_tolerance`` Lab units^2. TFX skips (b) when there is no blessed model yet.
    ``psnr`` and ``gray_psnr`` are reported, not thresholded.
    """
    # TFMA's upper bound is inclusive; "beats gray" is strict (a model that predicts ab = 0 is gray).
    beats_gray = tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
        upper_bound={"value": float(np.nextafter(max_ab_mse_vs_gray, -np.inf))}))
    no_regression = tfma.MetricThreshold(
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.LOWER_IS_BETTER,
            absolute={"value": regression_tolerance}))
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(
            signature_name="evaluate",
            preprocessing_function_names=["transform_features"],
            label_key=features.AB,
            prediction_key=signatures.EVAL_OUTPUT)],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            tfma.MetricConfig(class_name="AbMse", module=_EVAL_METRICS_MODULE, threshold=no_regression),
            tfma.MetricConfig(class_name="AbMseVsGray", module=_EVAL_METRICS_MODULE, threshold=beats_gray),
            tfma.MetricConfig(class_name="Psnr", module=_EVAL_METRICS_MODULE),
            tfma.MetricConfig(class_name="GrayPsnr", module=_EVAL_METRICS_MODULE),
        ])],
    )
