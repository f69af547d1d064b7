"""EfficientNet-Lite0 from the installed package's legacy PyTorch file: read safely, classify real photos."""
import os
import pickle

import pytest
import skimage.data
import tensorflow as tf

from colornet.components.model import efficientnet_lite0, torch_legacy


@pytest.fixture(scope="module")
def lite0():
    return efficientnet_lite0.build_lite0()


def _top1(model, rgb, gray=False):
    image = tf.image.resize(rgb[None].astype("float32") / 255.0, [224, 224])
    if gray:
        image = tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(image))
    probabilities = model(image * 2.0 - 1.0)["probabilities"].numpy()[0]
    return int(probabilities.argmax()), float(probabilities.max())


@pytest.mark.parametrize("name, label, min_score, min_gray_score", [
    ("coffee", 967, 0.85, 0.7),   # espresso
    ("chelsea", 285, 0.7, 0.85),  # Egyptian cat
])
def test_lite0_classifies_skimage_photos_in_color_and_gray(lite0, name, label, min_score, min_gray_score):
    rgb = getattr(skimage.data, name)()
    color_label, color_score = _top1(lite0, rgb)
    assert (color_label, color_score >= min_score) == (label, True)
    gray_label, gray_score = _top1(lite0, rgb, gray=True)
    assert (gray_label, gray_score >= min_gray_score) == (label, True)


def test_lite0_feature_maps_by_stride(lite0):
    outputs = lite0(tf.zeros([2, 128, 96, 3]))
    for stride, channels in efficientnet_lite0.FEATURE_CHANNELS.items():
        assert outputs[f"stride{stride}"].shape == (2, 128 // stride, 96 // stride, channels)
    assert outputs["pooled"].shape == (2, 1280) and outputs["probabilities"].shape == (2, 1000)


def _legacy_file(path, state, keys=()):
    """A file in PyTorch's legacy layout: magic, protocol, system info, the state pickle, the keys."""
    with open(path, "wb") as stream:
        for item in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(item, stream, protocol=2)
        stream.write(state)
        pickle.dump(list(keys), stream, protocol=2)
    return path


class _RunsACommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_loader_refuses_a_pickle_that_runs_code(tmp_path):
    marker = tmp_path / "pwned"
    path = _legacy_file(tmp_path / "evil.pth", pickle.dumps({"weight": _RunsACommand(marker)}, protocol=2))
    with pytest.raises(torch_legacy.UnsafePickleError, match="posix.system|os.system"):
        torch_legacy.load_state_dict(path)
    assert not marker.exists()
    with pytest.raises(torch_legacy.UnsafePickleError):
        efficientnet_lite0.build_lite0(weights=str(path))


def test_loader_reads_the_package_file_and_refuses_it_truncated(tmp_path):
    real = efficientnet_lite0.weights_file()
    state = torch_legacy.load_state_dict(real)
    assert len(state) == 296 and state["_fc.weight"].shape == (1000, 1280)
    assert state["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    truncated = tmp_path / "short.pth"
    truncated.write_bytes(open(real, "rb").read()[:-1000])
    with pytest.raises(pickle.UnpicklingError, match="truncated"):
        torch_legacy.load_state_dict(truncated)
