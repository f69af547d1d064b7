"""Keras callbacks of the Trainer: a checkpoint each epoch (and resuming from it), a TensorBoard
grid of sample colorizations of eval photos and the model's quality beside gray and the best
constant color each epoch, and a wall-time budget."""
import logging
import time

import numpy as np
import tensorflow as tf
import tf_keras as keras

from ...schemas import features
from ..evaluation import metrics
from ..evaluation.gallery import comparison_grid
from . import lab, preprocessing

SAMPLES_SUMMARY = "eval_colorizations"


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves the model's and optimizer's variables and the number of finished epochs after
    every epoch (``tf.train.CheckpointManager``, the last ``max_to_keep`` kept).

    Call ``restore()`` once the model is compiled and before ``fit``: it loads the latest
    checkpoint, if any, and returns the epoch to resume at (``fit(initial_epoch=...)``), so a
    Trainer killed mid-run continues where its last finished epoch left off.
    """

    def __init__(self, directory, model, max_to_keep=3):
        super().__init__()
        self.directory = directory
        self._epochs_done = tf.Variable(0, dtype=tf.int64, trainable=False, name="epochs_done")
        self._checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer, epochs_done=self._epochs_done)
        self._manager = tf.train.CheckpointManager(self._checkpoint, directory, max_to_keep=max_to_keep)

    def restore(self):
        """Loads the latest checkpoint; returns how many epochs it had finished (0 without one)."""
        latest = self._manager.latest_checkpoint
        if latest is None:
            return 0
        optimizer = self._checkpoint.optimizer
        # The optimizer makes its slot variables lazily; build them so they are restored too.
        getattr(optimizer, "inner_optimizer", optimizer).build(self._checkpoint.model.trainable_variables)
        self._checkpoint.restore(latest).assert_existing_objects_matched()
        epochs_done = int(self._epochs_done.numpy())
        logging.info("Resuming from %s after %d finished epoch(s)", latest, epochs_done)
        return epochs_done

    def on_epoch_end(self, epoch, logs=None):
        self._epochs_done.assign(epoch + 1)
        path = self._manager.save(checkpoint_number=epoch + 1)
        logging.info("Checkpoint of epoch %d: %s", epoch + 1, path)


def lab_pictures(lightness, ab_scaled):
    """Model-scaled L [n, h, w, 1] and ab / 128 [n, h, w, 2] -> uint8 RGB pictures [n, h, w, 3]."""
    rgb = lab.lab_to_rgb(preprocessing.lab_from_model(lightness, ab_scaled))
    return tf.image.convert_image_dtype(rgb, tf.uint8, saturate=True).numpy()


class SampleColorizations(keras.callbacks.Callback):
    """After each epoch, colorizes a fixed batch of eval photos and writes one image summary
    (``SAMPLES_SUMMARY``): a grid of gray | colorized | original rows, at the model's size."""

    def __init__(self, inputs, ab, log_dir, cell_width=128):
        super().__init__()
        self.inputs = inputs
        self.ab = ab
        self.cell_width = cell_width
        self._writer = tf.summary.create_file_writer(log_dir)

    @classmethod
    def from_dataset(cls, dataset, log_dir, count=4):
        """Takes the first ``count`` examples of a batched (inputs, ab) dataset as the samples."""
        inputs, ab = next(iter(dataset.unbatch().batch(count).take(1)))
        return cls(inputs, ab, log_dir)

    def on_epoch_end(self, epoch, logs=None):
        predicted = self.model(self.inputs, training=False)
        lightness = self.inputs[features.L]
        gray = lab_pictures(lightness, tf.zeros_like(self.ab))
        rows = zip(gray, lab_pictures(lightness, predicted), lab_pictures(lightness, self.ab))
        grid = comparison_grid(list(rows), cell_width=self.cell_width)
        with self._writer.as_default():
            tf.summary.image(SAMPLES_SUMMARY, np.expand_dims(grid, 0), step=epoch + 1)
        self._writer.flush()


class ValidationQuality(keras.callbacks.Callback):
    """After each epoch, measures the model on a few eval photos beside gray and the best constant
    color (``metrics.side_by_side``: with the classifier test and false color) and writes them as
    TensorBoard scalars (``quality/...``), so a model that drifts into a tint or paints streaks shows up
    while it trains, not after it is pushed. The classifier (Lite0) is built once, on the first epoch.

    A trend, not the verdict (the Evaluator measures every eval photo): ``PHOTOS`` photos, because these
    measures cost about 1 CPU-second per 224 px photo (16 photos: 15-18 CPU-s on 2 cores): the ``cpu``
    profile's 128 eval photos would cost about 2 CPU-minutes an epoch, more than the epoch's training steps."""

    PHOTOS = 32

    def __init__(self, batches, log_dir):
        super().__init__()
        self.batches = batches
        self._writer = tf.summary.create_file_writer(log_dir)
        self._classifier = metrics.Classifier()

    @classmethod
    def from_dataset(cls, dataset, log_dir):
        """Takes the first ``PHOTOS`` photos of a batched (inputs, ab) dataset, once, as the photos to measure."""
        return cls(list(dataset.unbatch().take(cls.PHOTOS).batch(cls.PHOTOS)), log_dir)

    def on_epoch_end(self, epoch, logs=None):
        lightness = tf.concat([inputs[features.L] for inputs, _ in self.batches], axis=0)
        ab_true = tf.concat([ab for _, ab in self.batches], axis=0)
        ab_pred = tf.concat([self.model(inputs, training=False) for inputs, _ in self.batches], axis=0)
        with self._writer.as_default():
            for tag, value in metrics.side_by_side(lightness, ab_true, ab_pred, self._classifier).items():
                tf.summary.scalar(f"quality/{tag}", value, step=epoch + 1)
        self._writer.flush()


class StepLimit(keras.callbacks.Callback):
    """Stops training once the optimizer has made ``steps`` steps (counted across resumes: its
    iterations are checkpointed); the epoch in progress ends early, validated and checkpointed."""

    def __init__(self, steps):
        super().__init__()
        self.steps = steps

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) >= self.steps:
            self.model.stop_training = True


class TimeBudget(keras.callbacks.Callback):
    """Stops training after ``minutes`` of wall time (checked after every batch); the
    epoch in progress ends early and the run finishes normally (checkpoint, export)."""

    def __init__(self, minutes):
        super().__init__()
        self.seconds = minutes * 60.0
        self._start = None

    def on_train_begin(self, logs=None):
        self._start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if time.monotonic() - self._start > self.seconds:
            logging.info("Time budget of %.1f minutes used up: stopping training", self.seconds / 60.0)
            self.model.stop_training = True
