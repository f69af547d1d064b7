"""The HTML gallery (opened and its embedded pictures decoded) and the PNG comparison grid."""
import base64
import html
import html.parser
import io

import numpy as np
import pytest
import tensorflow as tf
from colornet.components.evaluation import gallery, metrics
from colornet.components.evaluation import report as report_lib
from photo_fixtures import make_photo_folder, skimage_photo
from PIL import Image


def _colorfulness(rgb):
    return float(metrics.colorfulness(tf.constant(np.asarray(rgb)[None], tf.float32) / 255.0)[0])


def _gray(rgb):
    """The gray baseline of a uint8 photo, as the report makes it."""
    return report_lib._rgb(metrics.with_ab(report_lib._lab(rgb), 0.0))


def _gray_colorizer(images):
    """Returns its input: the gray baseline, as a model that learned nothing would."""
    return [report_lib.encode_png(report_lib.read_rgb(data)) for data in images]


class _PageReader(html.parser.HTMLParser):
    """Collects the page's <img> sources and the text of its table cells."""

    def __init__(self):
        super().__init__()
        self.images, self.cells, self._in_cell = [], [], False

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))
        self._in_cell = tag in ("td", "th")

    def handle_data(self, data):
        if self._in_cell:
            self.cells.append(data)


@pytest.fixture(scope="module")
def written_gallery(tmp_path_factory, shared_data):
    photos = make_photo_folder(tmp_path_factory.mktemp("photos"), shared_data)
    photo_gallery = gallery.Gallery()
    report = report_lib.evaluate_folder(_gray_colorizer, photos, on_photo=photo_gallery.add)
    path = photo_gallery.write(report, tmp_path_factory.mktemp("out") / "gallery.html")
    return report, path


def test_gallery_embeds_four_decodable_thumbnails_per_photo(written_gallery):
    report, path = written_gallery
    page = _PageReader()
    page.feed(path.read_text(encoding="utf-8"))
    assert len(page.images) == 4 * len(report["photos"]) == 20
    assert [image["alt"] for image in page.images[:4]] == ["gray", "best constant", "colorized", "original"]
    for image in page.images:
        prefix, payload = image["src"].split(",", 1)
        assert prefix == "data:image/png;base64"
        with Image.open(io.BytesIO(base64.b64decode(payload))) as picture:
            assert picture.format == "PNG" and picture.mode == "RGB"
            assert picture.width <= gallery.THUMBNAIL_WIDTH
    with Image.open(io.BytesIO(base64.b64decode(page.images[3]["src"].split(",", 1)[1]))) as astronaut:
        assert astronaut.size == (256, 256)
        assert _colorfulness(astronaut) > 20
    with Image.open(io.BytesIO(base64.b64decode(page.images[1]["src"].split(",", 1)[1]))) as constant:
        assert 0 < _colorfulness(constant) < _colorfulness(astronaut)  # one tint: some color, not the photo's


def test_gallery_starts_with_the_summary_and_names_every_photo(written_gallery):
    report, path = written_gallery
    text = path.read_text(encoding="utf-8")
    page = _PageReader()
    page.feed(text)
    summary_at = text.index("<table class=summary>")
    assert summary_at < text.index("<section>")
    assert {"beats gray", "beats constant", "best constant"} <= set(page.cells)
    assert "the best constant color's" in html.unescape(text)  # the headline
    for label in report_lib.METRIC_LABELS.values():
        assert label in page.cells
    for record in report["photos"]:
        assert f"<h2>{record['path']}" in text
    assert "already black-and-white: not in the means" in text
    assert "broken.jpg" in text  # listed as unreadable
    assert "http" not in text.replace("http-equiv", "")  # self-contained: nothing fetched


def test_comparison_grid_lays_out_rows_of_three():
    astronaut, coffee = skimage_photo("astronaut"), skimage_photo("coffee")  # 512x512 and 400x600
    rows = [(_gray(astronaut)[..., 0], astronaut / 255.0, astronaut), (_gray(coffee), coffee, coffee)]
    grid = gallery.comparison_grid(rows, cell_width=128, gap=4)
    assert grid.dtype == np.uint8 and grid.ndim == 3 and grid.shape[2] == 3
    assert grid.shape[1] == 3 * 128 + 4 * 4
    header = grid.shape[0] - (128 + round(400 * 128 / 600) + 3 * 4)
    assert 8 <= header <= 40
    # The colorized cell of the first row is the astronaut scaled to 128 px.
    top = header + 4
    cell = grid[top:top + 128, 4 + 128 + 4:4 + 2 * 128 + 4]
    expected = np.asarray(Image.fromarray(astronaut).resize((128, 128), Image.Resampling.LANCZOS))
    assert np.abs(cell.astype(int) - expected).mean() < 1.0
    # The gray column is gray, the original column is not.
    assert _colorfulness(grid[top:top + 128, 4:4 + 128]) < 1.0
    assert _colorfulness(grid[top:top + 128, 4 + 2 * 132:4 + 2 * 132 + 128]) > 20


def test_comparison_grid_without_labels_and_small_pictures():
    small = np.zeros((10, 20, 3), np.uint8)
    grid = gallery.comparison_grid([(small, small, small)], cell_width=64, gap=2, labels=())
    assert grid.shape == (10 + 2 * 2, 3 * 64 + 4 * 2, 3)
    with pytest.raises(ValueError):
        gallery.comparison_grid([])
