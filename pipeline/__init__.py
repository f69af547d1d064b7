"""The colornet TFX pipeline: its config, graph, runners and command line."""
import os

# TFT, TFMA and the TFX Trainer speak Keras 2 (tf_keras); make tf.keras agree before TensorFlow loads.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
