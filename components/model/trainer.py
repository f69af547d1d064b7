"""Trainer module: ``run_fn`` trains a colorization model on Transform's (L, ab) examples.

Configuration comes from the Trainer's ``custom_config``: ``{"model": ..., "training": ...}``, the
``ModelConfig`` and ``TrainingConfig`` of ``schemas/config.py`` as dicts; steps from
``TrainArgs``/``EvalArgs``. Runs on every visible GPU (MirroredStrategy, mixed float16) or on the
CPU (float32).

What a run leaves in ``fn_args.model_run_dir`` (or ``checkpoint_dir``, see ``TrainingConfig``):

* TensorBoard logs: ``train/`` and ``validation/`` (loss, ab-MSE and its ratios to gray and to the
  best constant color), ``quality/`` (PSNR, SSIM, colorfulness and chroma spread beside both
  baselines) and ``samples/`` (a grid of eval photos colorized after each epoch);
* ``training_log.csv`` (one line per epoch, appended across resumes), ``checkpoints/`` (one per
  epoch) and ``training_summary.json`` (steps, photos seen, wall and CPU minutes of this run).

A run that finds a checkpoint resumes after its last finished epoch; otherwise it warm-starts from
``fn_args.base_model`` when given.
"""
import functools
import json
import logging
import math
import os
import resource
import time

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tfx_bsl.public import tfxio

from ...schemas.config import ModelConfig, TrainingConfig
from ...schemas import features
from . import augmentation, callbacks, example_codec, export, losses, network

KERAS_WEIGHTS_FILE = "keras_weights.h5"
PRIOR_BATCHES = 20  # training batches whose colors give the classification loss its prior (``_bin_weights``)
TRAINING_SUMMARY_FILE = "training_summary.json"


def distribution_strategy():
    """MirroredStrategy over the visible GPUs, else the default (CPU) strategy."""
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        logging.info("Training on %d GPU(s) with MirroredStrategy", len(gpus))
        return tf.distribute.MirroredStrategy()
    logging.info("No GPU visible: training on the CPU")
    return tf.distribute.get_strategy()


def set_precision_policy():
    """mixed_float16 when a GPU is visible (the model's output layer stays float32), else float32."""
    policy = "mixed_float16" if tf.config.list_logical_devices("GPU") else "float32"
    keras.mixed_precision.set_global_policy(policy)
    logging.info("Keras dtype policy: %s", policy)
    return policy


def make_dataset(file_pattern, data_accessor, tft_output, size, training, config, input_names):
    """Batches of ({"L": [size, size, 1] (, "embedding": [1000])}, ab [size, size, 2]) from transformed
    examples; repeats forever.

    The stages (each measured by ``benchmarks/input.py``): TFX's dataset factory reads the gzipped
    TFRecords (files interleaved in parallel), shuffles serialized records (training), batches and
    parses them; ``example_codec.decode`` turns the stored PNG and float16 bytes into the model's
    floats (parallel map; XLA-fused) and, for training batches when ``config.augment`` is set, warps
    each photo's stored Lab values first (``augmentation.random_matrices``: each epoch sees new random
    transforms; eval batches are neither shuffled nor augmented); batches are prefetched so the
    next one is ready while the model trains on this one.
    """
    dataset = data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=config.batch_size, shuffle=training),
        tft_output.transformed_metadata.schema,
    )

    augment = training and config.augment

    def decode(stored):
        transform_lab = None
        if augment:  # drawn here, outside XLA, so a seeded run draws the same transforms
            matrices = augmentation.random_matrices(tf.shape(stored[features.LAB_PNG])[0], size, size)
            transform_lab = functools.partial(augmentation.warp, matrices=matrices)
        decoded = example_codec.decode(stored, size, transform_lab, xla=True)
        return network.model_inputs(decoded, size, input_names), tf.reshape(decoded[features.AB], [-1, size, size, 2])

    return dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def warm_start(model, base_model_dir):
    """Loads the weights a previous Trainer run saved beside its serving model, when they fit."""
    weights = os.path.join(os.path.dirname(base_model_dir.rstrip("/")), KERAS_WEIGHTS_FILE)
    if not tf.io.gfile.exists(weights):
        logging.warning("Base model %s has no %s: training from scratch", base_model_dir, KERAS_WEIGHTS_FILE)
        return False
    try:
        model.load_weights(weights)
    except ValueError as error:  # a different variant or size: its weights cannot be reused
        logging.warning("Cannot warm start from %s (%s): training from scratch", weights, error)
        return False
    logging.info("Warm start from %s", weights)
    return True


def _cost():
    """(wall seconds, CPU seconds of this process) now."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return time.monotonic(), usage.ru_utime + usage.ru_stime


def _write_training_summary(model_run_dir, model, model_config, training, started):
    """``training_summary.json``: what this training was (model settings, seed) and cost, on record beside the
    model (CPU time, not wall time, is what compares across a shared machine's runs)."""
    wall, cpu = (now - then for now, then in zip(_cost(), started))
    steps = int(model.optimizer.iterations.numpy())
    summary = {"optimizer_steps": steps, "photos_seen": steps * training.batch_size, "wall_minutes": wall / 60.0,
               "cpu_minutes": cpu / 60.0, "nproc": os.cpu_count(), "load_average": os.getloadavg(),
               "model": model_config.to_dict(), "seed": training.seed}
    with tf.io.gfile.GFile(os.path.join(model_run_dir, TRAINING_SUMMARY_FILE), "w") as summary_file:
        json.dump(summary, summary_file, indent=2)
    logging.info("Training: %s", summary)


def _bin_weights(model_config, train_ds):
    """The classification loss's rebalancing weights, from the colors of ``PRIOR_BATCHES`` training batches
    (``losses.rebalancing_weights``; the photos' own prior). The nearest-bin search (``losses._nearest_bins``'
    grid lookup) costs ~0.2 CPU-s per batch of 16 photos at 224 px (2 cores, load ~4), ~5 CPU-s per training. None for the other
    losses and for ``rebalance_mix`` 1 (no rebalancing)."""
    if model_config.loss != "classification" or model_config.rebalance_mix >= 1.0:
        return None
    counts = sum(losses.bin_counts(ab) for _, ab in train_ds.take(PRIOR_BATCHES))
    return losses.rebalancing_weights(counts, model_config.rebalance_mix)


def epoch_plan(train_steps, epochs):
    """``(epochs, steps_per_epoch)`` that reach exactly ``train_steps`` optimizer steps with at most ``epochs``
    epochs: ``ceil(train_steps / epochs)`` steps each, the last epoch cut short by ``callbacks.StepLimit``
    (Keras gives every epoch the same length; rounding down, as before, trained 170 of 175 steps unannounced)."""
    train_steps = max(1, train_steps)
    steps_per_epoch = math.ceil(train_steps / max(1, min(epochs, train_steps)))
    return math.ceil(train_steps / steps_per_epoch), steps_per_epoch


def run_fn(fn_args):
    """TFX Trainer entry point."""
    model_config = ModelConfig.from_dict(fn_args.custom_config["model"])
    training = TrainingConfig.from_dict(fn_args.custom_config["training"])
    size = model_config.image_size
    train_steps = max(1, fn_args.train_steps or 1)
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    if training.seed is not None:
        keras.utils.set_random_seed(training.seed)

    set_precision_policy()
    strategy = distribution_strategy()
    with strategy.scope():
        model = network.build_model(model_config)
    train_ds = make_dataset(fn_args.train_files, fn_args.data_accessor, tft_output, size, True, training,
                            model.input_names)
    eval_ds = make_dataset(fn_args.eval_files, fn_args.data_accessor, tft_output, size, False, training,
                           model.input_names)
    with strategy.scope():
        network.compile_model(model, model_config, train_steps, bin_weights=_bin_weights(model_config, train_ds))
        checkpoint = callbacks.EpochCheckpoint(
            training.checkpoint_dir or os.path.join(fn_args.model_run_dir, "checkpoints"), model)
        initial_epoch = checkpoint.restore()
    if not initial_epoch and fn_args.base_model:
        warm_start(model, fn_args.base_model)

    fit_callbacks = [
        keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir, update_freq="epoch"),
        callbacks.ValidationQuality.from_dataset(eval_ds, os.path.join(fn_args.model_run_dir, "quality")),
        keras.callbacks.CSVLogger(os.path.join(fn_args.model_run_dir, "training_log.csv"), append=True),
        checkpoint,
    ]
    epochs, steps_per_epoch = epoch_plan(train_steps, training.epochs)
    if epochs * steps_per_epoch > train_steps:  # only then: it reads the step count back after every batch
        fit_callbacks.append(callbacks.StepLimit(train_steps))
    if training.samples:
        fit_callbacks.append(callbacks.SampleColorizations.from_dataset(
            eval_ds, os.path.join(fn_args.model_run_dir, "samples"), training.samples))
    if training.time_budget_minutes:
        fit_callbacks.append(callbacks.TimeBudget(training.time_budget_minutes))
    if epochs != training.epochs:
        logging.info("%d training steps in %d epochs of %d steps (asked: %d epochs)", train_steps, epochs,
                     steps_per_epoch, training.epochs)
    started = _cost()
    model.fit(
        train_ds,
        epochs=epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=steps_per_epoch,
        validation_data=eval_ds,
        validation_steps=max(1, fn_args.eval_steps or 1),
        callbacks=fit_callbacks,
        verbose=2,
    )
    _write_training_summary(fn_args.model_run_dir, model, model_config, training, started)
    model.save_weights(os.path.join(os.path.dirname(fn_args.serving_model_dir.rstrip("/")), KERAS_WEIGHTS_FILE))
    export.export_serving_model(model, tft_output, size, fn_args.serving_model_dir)
