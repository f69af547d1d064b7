"""The exported SavedModel's signatures, called on a tiny real model with a real Transform graph."""
import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from skimage import color

from colornet.components.model import signatures
from colornet.schemas import features, serving_contract as contract
from colornet.serving import images
from export_fixtures import SIZE, encode, exported_model, sample_photos, transform_graph_dir, transformed_examples

# (width, height): tall, wide, odd, tiny and larger than the model's size, in one batch.
SIZES = [(40, 48), (64, 40), (33, 57), (9, 7), (120, 90), (31, 31)]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, shared_data):
    return tf.saved_model.load(str(exported_model(tmp_path_factory.getbasetemp() / "export", shared_data)))


@pytest.fixture(scope="module")
def photos(shared_data):
    return sample_photos(shared_data, SIZES)


def _colorize(loaded, encoded_images):
    result = loaded.signatures["serving_default"](**{contract.IMAGES_INPUT: tf.constant(encoded_images)})
    return [np.asarray(Image.open(io.BytesIO(png)).convert("RGB")) for png in result[contract.COLORIZED_OUTPUT].numpy()]


def _save(image, fmt):
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def _decoded(encoded):
    return np.asarray(Image.open(io.BytesIO(encoded)).convert("RGB"))


def _max_lightness_change(before, after):
    return np.abs(color.rgb2lab(before)[..., 0] - color.rgb2lab(after)[..., 0]).max()


def test_mixed_jpeg_and_png_batch_keeps_each_size_and_lightness(loaded, photos):
    encoded = [encode(photo, "JPEG" if index % 2 else "PNG") for index, photo in enumerate(photos)]
    colorized = _colorize(loaded, encoded)
    assert len(colorized) == len(encoded)
    for source, output in zip(encoded, colorized):
        original = _decoded(source)
        assert output.shape == original.shape
        # The output's L is the input's own full-resolution L: only uint8 rounding and gamut clipping move it.
        assert _max_lightness_change(original, output) < 3.0


def test_a_photo_colorizes_the_same_alone_and_in_a_batch(loaded, photos):
    encoded = [encode(photo, "PNG") for photo in photos[:3]]
    batch = _colorize(loaded, encoded)
    for one, in_batch in zip(encoded, batch):
        np.testing.assert_array_equal(_colorize(loaded, [one])[0], in_batch)


@pytest.mark.parametrize("make", [
    lambda rgb: encode(rgb[..., 0], "JPEG"),                                        # gray JPEG
    lambda rgb: encode(np.dstack([rgb, rgb[..., :1]]), "PNG"),                      # RGBA PNG
    lambda rgb: tf.io.encode_png(tf.constant(rgb.astype(np.uint16) * 257)).numpy(),  # 16-bit PNG
    lambda rgb: _save(Image.fromarray(rgb).convert("P"), "PNG"),                    # palette PNG
    lambda rgb: encode(rgb, "GIF"),
    lambda rgb: encode(rgb, "BMP"),
], ids=["gray-jpeg", "rgba-png", "png16", "palette-png", "gif", "bmp"])
def test_every_format_decoded_in_graph_is_accepted(loaded, photos, make):
    encoded = make(photos[0])
    (output,) = _colorize(loaded, [encoded])
    assert output.shape[:2] == photos[0].shape[:2]


def test_colorize_ab_returns_ab_at_the_model_size(loaded, photos):
    encoded = [encode(photo, "JPEG") for photo in photos[:2]]
    ab = loaded.signatures["colorize_ab"](**{contract.IMAGES_INPUT: tf.constant(encoded)})[contract.AB_OUTPUT]
    assert ab.shape == (2, SIZE, SIZE, 2)
    assert np.abs(ab.numpy()).max() <= 128.0


def test_an_empty_batch_gives_empty_outputs(loaded):
    empty = {contract.IMAGES_INPUT: tf.constant([], tf.string)}
    assert loaded.signatures["serving_default"](**empty)[contract.COLORIZED_OUTPUT].shape == (0,)
    assert loaded.signatures["colorize_ab"](**empty)[contract.AB_OUTPUT].shape == (0, SIZE, SIZE, 2)


@pytest.mark.parametrize("bad", [
    b"not an image at all",
    b"",
    encode(np.zeros((40, 40, 3), np.uint8), "WEBP"),
    encode(np.zeros((40, 40, 3), np.uint8), "TIFF"),
    _save(Image.new("CMYK", (40, 40), (0, 120, 200, 10)), "JPEG"),
], ids=["garbage", "empty", "webp", "tiff", "cmyk-jpeg"])
@pytest.mark.parametrize("signature", ["serving_default", "colorize_ab"])
def test_unsupported_bytes_fail_only_their_own_photo(loaded, photos, bad, signature):
    batch = tf.constant([encode(photos[0], "JPEG"), bad])
    result = loaded.signatures[signature](**{contract.IMAGES_INPUT: batch})
    errors = result[contract.ERRORS_OUTPUT].numpy()
    assert errors[0] == b"" and errors[1].decode() == signatures.UNSUPPORTED_MESSAGE
    assert "transcode_for_serving" in errors[1].decode()
    if signature == "serving_default":
        pngs = result[contract.COLORIZED_OUTPUT].numpy()
        assert pngs[0].startswith(b"\x89PNG") and pngs[1] == b""
    else:
        ab = result[contract.AB_OUTPUT].numpy()
        assert np.abs(ab[0]).max() > 0 and not ab[1].any()


def test_corrupt_bytes_of_a_supported_format_fail_only_their_own_photo(loaded, photos):
    truncated = encode(photos[0], "PNG")[:60]
    result = loaded.signatures["serving_default"](**{contract.IMAGES_INPUT: tf.constant([truncated])})
    assert result[contract.ERRORS_OUTPUT].numpy().tolist() == [signatures.UNDECODABLE_MESSAGE.encode()]
    assert result[contract.COLORIZED_OUTPUT].numpy().tolist() == [b""]


def test_a_bad_photo_in_a_merged_batch_changes_nothing_for_the_others(loaded, photos):
    """What TF Serving's --enable_batching does: clients' photos in one batch; one client's bad photo
    must leave the others' results exactly as they are without it."""
    good = [encode(photo, "PNG") for photo in photos[:3]]
    alone = _colorize(loaded, good)
    result = loaded.signatures["serving_default"](
        **{contract.IMAGES_INPUT: tf.constant([good[0], b"\xff\xd8\xff truncated", good[1], b"GIF8", good[2]])})
    merged = [np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
              for png in result[contract.COLORIZED_OUTPUT].numpy()[[0, 2, 4]]]
    for expected, got in zip(alone, merged):
        np.testing.assert_array_equal(expected, got)
    assert [bool(error) for error in result[contract.ERRORS_OUTPUT].numpy()] == [False, True, False, True, False]


def test_evaluate_reads_transformed_examples_and_predicts_what_serving_does(loaded, photos, tmp_path_factory):
    """The Evaluator's pair reads the examples Transform wrote (no Transform graph in either): the
    model's input L beside its predicted ab, the same ab that ``colorize_ab`` predicts from the photo."""
    encoded = [encode(photo, "JPEG") for photo in photos[:2]]
    examples = tf.constant(transformed_examples(transform_graph_dir(tmp_path_factory.getbasetemp() / "export"), encoded))
    lab = loaded.signatures[contract.EVALUATE_SIGNATURE](examples=examples)[contract.EVAL_OUTPUT].numpy()
    decoded = loaded.signatures[contract.TRANSFORM_SIGNATURE](examples=examples)
    assert lab.shape == (2, SIZE * SIZE * 3)
    lab = lab.reshape(2, SIZE * SIZE, 3)
    np.testing.assert_allclose(lab[..., 0], decoded[features.L].numpy().reshape(2, -1), atol=1e-6)
    served = loaded.signatures["colorize_ab"](images=tf.constant(encoded))[contract.AB_OUTPUT].numpy()
    np.testing.assert_allclose(lab[..., 1:] * 128.0, served.reshape(2, SIZE * SIZE, 2), atol=1e-3)


@pytest.mark.parametrize("fmt,mode", [("WEBP", "RGB"), ("TIFF", "RGB"), ("JPEG", "CMYK")])
def test_client_transcoding_makes_other_formats_servable(loaded, photos, fmt, mode):
    transcoded = images.transcode_for_serving(_save(Image.fromarray(photos[1]).convert(mode), fmt))
    assert transcoded.startswith(b"\x89PNG")
    (output,) = _colorize(loaded, [transcoded])
    assert output.shape == photos[1].shape


def test_client_transcoding_keeps_servable_bytes_and_uprights_exif_rotations(photos):
    jpeg = encode(photos[1], "JPEG")
    assert images.transcode_for_serving(jpeg) == jpeg
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    rotated = encode(photos[1], "JPEG", exif=exif.tobytes())
    upright = Image.open(io.BytesIO(images.transcode_for_serving(rotated)))
    assert upright.size == (photos[1].shape[0], photos[1].shape[1])
    with pytest.raises(ValueError, match="not an image"):
        images.transcode_for_serving(b"definitely not an image")
