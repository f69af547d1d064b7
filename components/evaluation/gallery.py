"""Pictures of an evaluation: a self-contained HTML gallery and a PNG comparison grid.

The gallery is one .html file (thumbnails embedded as base64 PNG data URIs, so it can be
mailed or attached to a CI run) with the headline and summary table on top and, per photo,
gray | best constant color | colorized | original beside its measures. Looking at it is the point:
a model that only tints shows the same cast as the constant column on every photo. ``comparison_grid`` draws the same
three columns into one image, e.g. for TensorBoard samples during training.
"""
import base64
import html
import io
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import report as report_lib

THUMBNAIL_WIDTH = 256
COLUMNS = ("gray", "colorized", "original")  # the training samples' grid
GALLERY_COLUMNS = ("gray", "best constant", "colorized", "original")


def as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """uint8 or [0, 1] float RGB, or a single-channel gray image ([H, W] or [H, W, 1]) -> uint8 RGB."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim == 3 and image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    if image.dtype == np.uint8:
        return image
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def thumbnail(image: np.ndarray, width: int = THUMBNAIL_WIDTH) -> Image.Image:
    """The image scaled to ``width`` pixels wide (aspect kept; never enlarged)."""
    picture = Image.fromarray(as_rgb_uint8(image))
    if picture.width > width:
        height = max(1, round(picture.height * width / picture.width))
        picture = picture.resize((width, height), Image.Resampling.LANCZOS)
    return picture


def comparison_grid(rows: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
                    cell_width: int = THUMBNAIL_WIDTH, gap: int = 4,
                    labels: Sequence[str] = COLUMNS) -> np.ndarray:
    """One uint8 [H, W, 3] image: a header naming the columns, then one row per (gray, colorized, original).

    Each picture is scaled to ``cell_width`` wide (smaller ones are kept as they are) and
    centred in its cell; pictures may differ in size. Pass ``labels=()`` for no header.
    """
    if not rows:
        raise ValueError("comparison_grid needs at least one row")
    cells = [[thumbnail(image, cell_width) for image in row] for row in rows]
    font = ImageFont.load_default()
    header = (font.getbbox("Ag")[3] + 2 * gap) if labels else 0
    row_heights = [max(cell.height for cell in row) for row in cells]
    columns = max(len(row) for row in cells)
    width = columns * cell_width + (columns + 1) * gap
    height = header + sum(row_heights) + (len(rows) + 1) * gap
    grid = Image.new("RGB", (width, height), (24, 24, 24))
    draw = ImageDraw.Draw(grid)
    for column, label in enumerate(labels):
        draw.text((gap + column * (cell_width + gap) + 2, gap), label, fill=(230, 230, 230), font=font)
    top = header + gap
    for row, row_height in zip(cells, row_heights):
        for column, cell in enumerate(row):
            left = gap + column * (cell_width + gap) + (cell_width - cell.width) // 2
            grid.paste(cell, (left, top + (row_height - cell.height) // 2))
        top += row_height + gap
    return np.asarray(grid)


def png_data_uri(picture: Image.Image) -> str:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class Gallery:
    """Collects thumbnails from ``evaluate_folder(..., on_photo=gallery.add)``, then writes the HTML."""

    def __init__(self, thumbnail_width: int = THUMBNAIL_WIDTH):
        self.thumbnail_width = thumbnail_width
        self._entries: list[tuple[dict, dict[str, str]]] = []

    def add(self, result: "report_lib.PhotoResult") -> None:
        pictures = {"gray": result.gray, "best constant": result.constant, "colorized": result.colorized,
                    "original": result.original}
        uris = {name: png_data_uri(thumbnail(picture, self.thumbnail_width)) for name, picture in pictures.items()}
        self._entries.append((result.record, uris))

    def html(self, report: dict, title: str = "Colorization quality") -> str:
        photos = "\n".join(_photo_section(record, uris) for record, uris in self._entries)
        return _PAGE.format(title=html.escape(title), css=_CSS, summary=_summary_section(report), photos=photos)

    def write(self, report: dict, path, title: str = "Colorization quality") -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.html(report, title), encoding="utf-8")
        return path


def _summary_section(report: dict) -> str:
    summary = report["summary"]
    a, b = report["constant_ab"]
    lines = [f"<p><strong>{html.escape(report_lib.headline(report))}</strong></p>",
             f"<p>{html.escape(report['images_dir'])}: {summary['photos']} color photos evaluated, "
             f"{summary['already_gray']} already black-and-white and {len(report['unreadable'])} unreadable "
             f"left out of the means. Best constant color: (a, b) = ({a:.1f}, {b:.1f}), the photos' mean.</p>"]
    rows = report_lib.summary_rows(report)
    if rows:
        header = "".join(f"<th>{name}</th>" for name in report_lib.SUMMARY_HEADER)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
        lines.append(f"<table class=summary><tr>{header}</tr>{body}</table>")
    if report["unreadable"]:
        items = "".join(f"<li>{html.escape(item['path'])}: {html.escape(item['error'])}</li>"
                        for item in report["unreadable"])
        lines.append(f"<details><summary>unreadable files</summary><ul>{items}</ul></details>")
    return "\n".join(lines)


def _photo_section(record: dict, uris: dict[str, str]) -> str:
    wins = report_lib.beats(record, "constant")
    figures = "".join(f'<figure><img src="{uris[name]}" alt="{name}"><figcaption>{name}</figcaption></figure>'
                      for name in GALLERY_COLUMNS)
    rows = "".join(
        f"<tr><td>{report_lib.METRIC_LABELS[name]}</td>"
        f"<td class={'win' if wins[name] else 'loss'}>{report_lib.format_value(name, record['model'][name])}</td>"
        f"<td>{report_lib.format_value(name, record['gray'][name])}</td>"
        f"<td>{report_lib.format_value(name, record['constant'][name])}</td>"
        f"<td>{report_lib.format_value(name, record['original'][name]) if name in record['original'] else ''}</td></tr>"
        for name in report_lib.MEASURES)
    note = " <em>(already black-and-white: not in the means)</em>" if record["already_gray"] else ""
    return (f"<section><h2>{html.escape(record['path'])}{note}</h2>"
            f"<p>{record['width']}&times;{record['height']}</p>"
            f"<div class=photo><div class=figures>{figures}</div>"
            f"<table><tr><th>measure</th><th>model</th><th>gray</th><th>constant</th><th>original</th></tr>{rows}"
            f"</table></div></section>")


_CSS = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
section { border-top: 1px solid #ddd; margin-top: 1.2em; }
h2 { font-size: 1em; margin-bottom: 0.2em; }
.photo { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
.figures { display: flex; gap: 0.5em; }
figure { margin: 0; text-align: center; font-size: 0.85em; }
td.win { background: #dff3df; }
td.loss { background: #f8e0e0; }
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title><style>{css}</style></head>
<body><h1>{title}</h1>
{summary}
<p>Green: the model beats the best constant color on that measure (for colorfulness and spread: is closer to
the original's).</p>
{photos}
</body></html>
"""
