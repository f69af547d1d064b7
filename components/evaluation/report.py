"""Evaluate a colorizer on a folder of color photos, beside the grayscale baseline.

Each photo is made gray (its Lab lightness with ab = 0, as an RGB PNG), colorized by the
model, and the result is compared with the original (see metrics.py). The report is a
JSON-able dict::

    {"images_dir": ..., "photos": [{"path", "width", "height", "original_chroma_rms",
                                    "already_gray", "original_colorfulness",
                                    "model": {metric: value}, "gray": {metric: value}}, ...],
     "unreadable": [{"path", "error"}, ...],
     "summary": {"photos": n, "model": {metric: mean}, "gray": {metric: mean},
                 "original": {"colorfulness": mean}, "model_beats_gray": {metric: fraction}}}

Photos that are already black-and-white (RMS chroma under ``GRAY_CHROMA_RMS``) say nothing
about colorization, so they are listed but left out of the summary. A PSNR of identical
images is ``inf``; Python's json writes it as ``Infinity``.
"""
import dataclasses
import io
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

import numpy as np
import skimage.color
from PIL import Image
from tqdm import tqdm

from ...schemas import serving_contract as contract
from ...serving.images import image_files
from ..ingestion import photo
from . import metrics

GRAY_CHROMA_RMS = 2.0  # Lab units; B&W scans saved as color JPEGs measure < 1, BSDS500 photos > 3

ColorizeFn = Callable[[list[bytes]], list[bytes]]


@dataclasses.dataclass
class PhotoResult:
    """One evaluated photo: the pictures (uint8 RGB, same size) and its JSON-able record."""
    original: np.ndarray
    gray: np.ndarray
    colorized: np.ndarray
    record: dict


def read_rgb(data: bytes) -> np.ndarray:
    """Encoded image bytes -> uint8 RGB as ingestion sees the photo (``photo.upright_rgb``)."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(photo.upright_rgb(image))


def encode_png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(metrics.to_uint8_rgb(rgb)).save(buffer, format="PNG")
    return buffer.getvalue()


def evaluate_folder(colorize_fn: ColorizeFn, images_dir, max_images: Optional[int] = None,
                    batch_size: int = 8,
                    on_photo: Optional[Callable[[PhotoResult], None]] = None) -> dict:
    """Colorizes the gray version of every photo in ``images_dir`` and reports the metrics.

    ``max_images`` keeps the first N photo files of ``image_files`` (unreadable ones count).

    ``colorize_fn`` takes a list of encoded images and returns one PNG per image at the
    same size (the serving signature's contract). It is called with up to ``batch_size``
    photos at a time. ``on_photo`` receives each ``PhotoResult`` as it is ready (the
    gallery uses it), so the pictures are never all held in memory.
    """
    images_dir = Path(images_dir)
    paths = image_files(images_dir)[:max_images]
    if not paths:
        raise FileNotFoundError(f"no photos under {images_dir}")
    records, unreadable = [], []
    with tqdm(total=len(paths), unit="photo", desc="evaluate") as progress:
        for result in _evaluate_photos(colorize_fn, paths, images_dir, batch_size, unreadable, progress):
            records.append(result.record)
            if on_photo is not None:
                on_photo(result)
    return {"images_dir": str(images_dir), "photos": records, "unreadable": unreadable,
            "summary": summarize(records)}


def _evaluate_photos(colorize_fn, paths, root, batch_size, unreadable, progress) -> Iterator[PhotoResult]:
    for start in range(0, len(paths), batch_size):
        batch = []
        for path in paths[start:start + batch_size]:
            name = str(path.relative_to(root))
            try:
                original = read_rgb(path.read_bytes())
            except (OSError, ValueError) as error:  # PIL raises these for truncated or non-image files
                unreadable.append({"path": name, "error": str(error)})
                progress.update()
                continue
            batch.append((name, original, metrics.gray_baseline(original)))
        if not batch:
            continue
        outputs = colorize_fn([encode_png(gray) for _, _, gray in batch])
        if len(outputs) != len(batch):
            raise ValueError(f"colorize_fn returned {len(outputs)} images for {len(batch)} inputs")
        for (name, original, gray), png in zip(batch, outputs):
            colorized = read_rgb(png)
            if colorized.shape != original.shape:
                raise ValueError(f"{name}: colorized image is {colorized.shape[:2]}, "
                                 f"the photo {original.shape[:2]} (a colorizer must keep the size)")
            yield PhotoResult(original, gray, colorized, _photo_record(name, original, gray, colorized))
            progress.update()


def _photo_record(name: str, original: np.ndarray, gray: np.ndarray, colorized: np.ndarray) -> dict:
    chroma_rms = float(np.sqrt(np.mean(skimage.color.rgb2lab(original)[..., 1:] ** 2)))
    return {
        "path": name,
        "width": int(original.shape[1]),
        "height": int(original.shape[0]),
        "original_chroma_rms": chroma_rms,
        "already_gray": chroma_rms < GRAY_CHROMA_RMS,
        "original_colorfulness": metrics.colorfulness(original),
        "model": metrics.all_metrics(original, colorized),
        "gray": metrics.all_metrics(original, gray),
    }


def model_beats_gray(record: dict) -> dict[str, bool]:
    """Per metric, whether the model is strictly better than the gray baseline on this photo.

    Higher PSNR and SSIM, lower ab-MSE, and a colorfulness closer to the original's.
    """
    model, gray, target = record["model"], record["gray"], record["original_colorfulness"]
    return {
        "psnr": model["psnr"] > gray["psnr"],
        "ssim": model["ssim"] > gray["ssim"],
        "ab_mse": model["ab_mse"] < gray["ab_mse"],
        "colorfulness": abs(model["colorfulness"] - target) < abs(gray["colorfulness"] - target),
    }


def summarize(records: Sequence[dict]) -> dict:
    """Means and beat-the-baseline fractions over the photos that were in color."""
    colored = [record for record in records if not record["already_gray"]]
    summary = {"photos": len(colored), "already_gray": len(records) - len(colored)}
    if not colored:
        return summary
    for side in ("model", "gray"):
        summary[side] = {name: float(np.mean([r[side][name] for r in colored])) for name in metrics.METRICS}
    summary["original"] = {"colorfulness": float(np.mean([r["original_colorfulness"] for r in colored]))}
    wins = [model_beats_gray(record) for record in colored]
    summary["model_beats_gray"] = {name: float(np.mean([win[name] for win in wins])) for name in metrics.METRICS}
    return summary


METRIC_LABELS = {
    "psnr": "PSNR (dB, higher better)",
    "ssim": "SSIM (higher better)",
    "ab_mse": "ab-MSE (lower better)",
    "colorfulness": "colorfulness (near original)",
}


def summary_rows(report: dict) -> list[tuple[str, str, str, str, str]]:
    """(metric, model, gray, original, model beats gray) as display strings, one row per metric."""
    summary = report["summary"]
    if "model" not in summary:
        return []
    rows = []
    for name in metrics.METRICS:
        original = f"{summary['original'][name]:.2f}" if name in summary["original"] else ""
        rows.append((METRIC_LABELS[name], f"{summary['model'][name]:.3f}", f"{summary['gray'][name]:.3f}",
                     original, f"{summary['model_beats_gray'][name]:.0%}"))
    return rows


def format_summary(report: dict) -> str:
    """A plain-text table of ``summary_rows`` with a line saying what was counted."""
    summary = report["summary"]
    counted = (f"{summary['photos']} color photos evaluated; {summary['already_gray']} already "
               f"black-and-white and {len(report['unreadable'])} unreadable left out")
    rows = summary_rows(report)
    if not rows:
        return counted + "\n"
    table = [("metric", "model", "gray", "original", "model beats gray"), *rows]
    widths = [max(len(row[column]) for row in table) for column in range(len(table[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in table]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join([counted, "", *lines]) + "\n"


def resolve_saved_model_dir(path) -> Path:
    """``path`` itself if it holds saved_model.pb, else its newest loadable version (``serving_contract``)."""
    path = Path(path)
    if (path / contract.SAVED_MODEL_FILE).is_file():
        return path
    versions = contract.loadable_versions(path)
    if not versions:
        raise FileNotFoundError(f"no SavedModel in {path} nor in an integer version subdirectory of it")
    return path / str(versions[-1])


def saved_model_colorizer(path) -> ColorizeFn:
    """A ``colorize_fn`` calling the ``serving_default`` signature of a SavedModel, in-process
    (``serving_contract``: encoded images in, PNG bytes out, as the served model does)."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(resolve_saved_model_dir(path)))
    if contract.SERVING_SIGNATURE not in loaded.signatures:
        raise ValueError(f"{path} has no {contract.SERVING_SIGNATURE} signature (it has {list(loaded.signatures)})")

    def colorize(images: list[bytes]) -> list[bytes]:
        # Looked up through ``loaded`` on each call: the signature's variables live only as long as it.
        signature = loaded.signatures[contract.SERVING_SIGNATURE]
        outputs = signature(**{contract.IMAGES_INPUT: tf.constant(images, dtype=tf.string)})
        return [bytes(png) for png in outputs[contract.COLORIZED_OUTPUT].numpy()]

    return colorize
