"""Evaluate a colorizer on a folder of color photos, beside gray and the best constant color.

Each photo is made gray (its Lab lightness with ab = 0, as an RGB PNG), colorized by the model at
its own size, and compared with the original at full resolution (``metrics.py``). Two baselines
are measured on the same photos: gray itself, and the best constant color, i.e. every pixel painted
with the mean (a, b) of all the photos evaluated (pixel-weighted), found in a first pass over the
folder. The report is a JSON-able dict::

    {"images_dir": ..., "constant_ab": [a, b],
     "photos": [{"path", "width", "height", "original_chroma_rms", "already_gray",
                 "original": {"colorfulness", "ab_spread", "false_color", "mean_ab", "classes"},
                 "model" | "gray" | "constant": {"psnr", "ssim", "ab_mse", "colorfulness", "ab_spread",
                                                 "false_color", "top1", "top5"},
                 "model_mean_ab"}, ...],
     "unreadable": [{"path", "error"}, ...],
     "summary": {"photos", "already_gray", "model" | "gray" | "constant" | "original": {metric: mean},
                 "ratios": {"ab_mse_vs_gray", "ab_mse_vs_constant", "colorfulness_vs_original",
                            "ab_spread_vs_original", "false_color_vs_original", "top1_gain_over_gray"},
                 "intervals": {"ab_mse_vs_constant" | "ab_mse_vs_gray" | "top1_gain_over_gray": [low, high]},
                 "photo_color_std": {"model", "original"},
                 "model_beats_gray" | "model_beats_constant": {metric: fraction of photos}}}

``top1`` / ``top5`` are 1 when the classifier's top-1 class of the candidate is the original's / the
original's top-1 is in the candidate's top 5 (``metrics.agreement``), so their means are fractions of
photos; ``classes`` are the original's top-5 ImageNet classes. ``intervals`` are 95 % bootstrap
intervals over photos (``bootstrap_interval``): with 100 photos a ratio is known to a few hundredths.

Photos that are already black-and-white (RMS chroma under ``GRAY_CHROMA_RMS``) say nothing about
colorization: they are listed but left out of the constant and the summary.
"""
import dataclasses
import io
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

import numpy as np
import tensorflow as tf
from PIL import Image
from tqdm import tqdm

from ...schemas import serving_contract as contract
from ...serving.images import image_files
from ..ingestion import photo
from ..model import lab
from . import metrics

GRAY_CHROMA_RMS = 2.0  # Lab units; B&W scans saved as color JPEGs measure < 1, BSDS500 photos > 3
SIDES = ("model", "gray", "constant")
# Per-photo measures of each side, and which way is better.
MEASURES = {"psnr": "higher", "ssim": "higher", "ab_mse": "lower", "colorfulness": "original", "ab_spread": "original",
            "top1": "higher", "top5": "higher", "false_color": "original"}
ORIGINAL_MEASURES = ("colorfulness", "ab_spread", "false_color")  # measured on the originals too
BOOTSTRAP_SAMPLES = 2000

ColorizeFn = Callable[[list[bytes]], list[bytes]]


@dataclasses.dataclass
class PhotoResult:
    """One evaluated photo: the pictures (uint8 RGB, same size) and its JSON-able record."""
    original: np.ndarray
    gray: np.ndarray
    constant: np.ndarray
    colorized: np.ndarray
    record: dict


def read_rgb(data: bytes) -> np.ndarray:
    """Encoded image bytes -> uint8 RGB as ingestion sees the photo (``photo.upright_rgb``)."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(photo.upright_rgb(image))


def encode_png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def _lab(rgb: np.ndarray) -> tf.Tensor:
    """uint8 RGB [h, w, 3] -> Lab [1, h, w, 3]."""
    return lab.rgb_to_lab(tf.constant(rgb[None], tf.float32) / 255.0)


def _rgb(lab_image) -> np.ndarray:
    """Lab [1, h, w, 3] -> uint8 RGB [h, w, 3], as a PNG would store it."""
    return tf.image.convert_image_dtype(lab.lab_to_rgb(lab_image)[0], tf.uint8, saturate=True).numpy()


def _measures(original_lab, candidate_rgb: np.ndarray, original_classes, candidate_classes) -> dict:
    """The per-photo measures of a candidate (uint8 RGB, as delivered) against the original, with the
    classifier's top-5 classes of both ([1, 5])."""
    original_rgb = lab.lab_to_rgb(original_lab)
    candidate = tf.constant(candidate_rgb[None], tf.float32) / 255.0
    candidate_lab = lab.rgb_to_lab(candidate)
    top1, top5 = metrics.agreement(original_classes, candidate_classes)
    values = {"psnr": metrics.psnr(original_rgb, candidate), "ssim": metrics.ssim(original_rgb, candidate),
              "ab_mse": metrics.ab_mse(original_lab, candidate_lab), "colorfulness": metrics.colorfulness(candidate),
              "ab_spread": metrics.ab_spread(candidate_lab), "false_color": metrics.false_color(candidate_lab),
              "top1": top1, "top5": top5}
    return {name: float(value[0]) for name, value in values.items()}


def _chroma_rms(original_lab) -> float:
    return float(tf.sqrt(tf.reduce_mean(tf.square(original_lab[..., 1:]))))


def constant_color(paths: Sequence[Path]) -> np.ndarray:
    """The best constant color of the photos: their pixel-weighted mean (a, b), black-and-white and
    unreadable photos left out (the evaluation pass reports those)."""
    total, pixels = np.zeros(2), 0
    for path in paths:
        try:
            original_lab = _lab(read_rgb(path.read_bytes()))
        except (OSError, ValueError):  # PIL raises these for truncated or non-image files
            continue
        if _chroma_rms(original_lab) < GRAY_CHROMA_RMS:
            continue
        count = int(original_lab.shape[1] * original_lab.shape[2])
        total += count * metrics.mean_ab(original_lab).numpy()[0]
        pixels += count
    return total / max(pixels, 1)


def evaluate_folder(colorize_fn: ColorizeFn, images_dir, max_images: Optional[int] = None,
                    batch_size: int = 8,
                    on_photo: Optional[Callable[[PhotoResult], None]] = None,
                    classifier: Optional[metrics.Classifier] = None) -> dict:
    """Colorizes the gray version of every photo in ``images_dir`` and reports the measures.

    ``max_images`` keeps the first N photo files of ``image_files`` (unreadable ones count).
    ``colorize_fn`` takes a list of encoded images and returns one PNG per image at the same size
    (the serving signature's contract); it is called with up to ``batch_size`` photos at a time.
    ``on_photo`` receives each ``PhotoResult`` as it is ready (the gallery uses it), so the
    pictures are never all held in memory. ``classifier`` names the photos' classes for the semantic
    measure (default: a new ``metrics.Classifier``, EfficientNet-Lite0).
    """
    images_dir = Path(images_dir)
    paths = image_files(images_dir)[:max_images]
    if not paths:
        raise FileNotFoundError(f"no photos under {images_dir}")
    constant_ab = constant_color(paths)
    classifier = classifier or metrics.Classifier()
    records, unreadable = [], []
    with tqdm(total=len(paths), unit="photo", desc="evaluate") as progress:
        for result in _evaluate_photos(colorize_fn, paths, images_dir, batch_size, constant_ab, classifier,
                                       unreadable, progress):
            records.append(result.record)
            if on_photo is not None:
                on_photo(result)
    return {"images_dir": str(images_dir), "constant_ab": constant_ab.tolist(), "photos": records,
            "unreadable": unreadable, "summary": summarize(records)}


def _evaluate_photos(colorize_fn, paths, root, batch_size, constant_ab, classifier, unreadable,
                     progress) -> Iterator[PhotoResult]:
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
            original_lab = _lab(original)
            batch.append((name, original, original_lab, _rgb(metrics.with_ab(original_lab, 0.0))))
        if not batch:
            continue
        outputs = colorize_fn([encode_png(gray) for *_, gray in batch])
        if len(outputs) != len(batch):
            raise ValueError(f"colorize_fn returned {len(outputs)} images for {len(batch)} inputs")
        for (name, original, original_lab, gray), png in zip(batch, outputs):
            colorized = read_rgb(png)
            if colorized.shape != original.shape:
                raise ValueError(f"{name}: colorized image is {colorized.shape[:2]}, "
                                 f"the photo {original.shape[:2]} (a colorizer must keep the size)")
            constant = _rgb(metrics.with_ab(original_lab, constant_ab))
            record = _photo_record(name, original, original_lab, {"model": colorized, "gray": gray,
                                                                   "constant": constant}, classifier)
            yield PhotoResult(original, gray, constant, colorized, record)
            progress.update()


def _photo_record(name: str, original: np.ndarray, original_lab, candidates: dict, classifier) -> dict:
    chroma_rms = _chroma_rms(original_lab)
    # One classifier call per photo: the original and its candidates (all the photo's size) as one batch.
    classes = classifier.top5(tf.constant(np.stack([original, *candidates.values()]), tf.float32) / 255.0)
    original_classes, candidate_classes = classes[:1], dict(zip(candidates, tf.split(classes[1:], len(candidates))))
    return {
        "path": name,
        "width": int(original.shape[1]),
        "height": int(original.shape[0]),
        "original_chroma_rms": chroma_rms,
        "already_gray": chroma_rms < GRAY_CHROMA_RMS,
        "original": {"colorfulness": float(metrics.colorfulness(tf.constant(original[None], tf.float32) / 255.0)[0]),
                     "ab_spread": float(metrics.ab_spread(original_lab)[0]),
                     "false_color": float(metrics.false_color(original_lab)[0]),
                     "mean_ab": metrics.mean_ab(original_lab).numpy()[0].tolist(),
                     "classes": original_classes.numpy()[0].tolist()},
        **{side: _measures(original_lab, picture, original_classes, candidate_classes[side])
           for side, picture in candidates.items()},
        "model_mean_ab": metrics.mean_ab(_lab(candidates["model"])).numpy()[0].tolist(),
    }


def beats(record: dict, baseline: str) -> dict[str, bool]:
    """Per measure, whether the model is strictly better than ``baseline`` ("gray" or "constant") on this
    photo: higher PSNR and SSIM, lower ab-MSE, colorfulness and spread closer to the original's."""
    model, other, original = record["model"], record[baseline], record["original"]
    wins = {}
    for name, better in MEASURES.items():
        if better == "higher":
            wins[name] = model[name] > other[name]
        elif better == "lower":
            wins[name] = model[name] < other[name]
        else:
            wins[name] = abs(model[name] - original[name]) < abs(other[name] - original[name])
    return wins


def bootstrap_interval(numerator, denominator=None, level=0.95, samples=BOOTSTRAP_SAMPLES, seed=0) -> list[float]:
    """[low, high]: the ``level`` percentile interval of mean(numerator) / mean(denominator) (denominator
    default: 1) over the photos resampled with replacement, ``samples`` times. How much the figure would
    move on another draw of as many photos like these: a ratio of 1.26x from 14 photos may be 0.9x-1.6x."""
    numerator = np.asarray(numerator, np.float64)
    denominator = np.ones_like(numerator) if denominator is None else np.asarray(denominator, np.float64)
    picks = np.random.default_rng(seed).integers(0, len(numerator), size=(samples, len(numerator)))
    ratios = numerator[picks].mean(axis=1) / denominator[picks].mean(axis=1)
    low, high = np.percentile(ratios, [50.0 * (1.0 - level), 50.0 * (1.0 + level)])
    return [float(low), float(high)]


def summarize(records: Sequence[dict]) -> dict:
    """Means, ratios and beat-the-baseline fractions over the photos that were in color."""
    colored = [record for record in records if not record["already_gray"]]
    summary = {"photos": len(colored), "already_gray": len(records) - len(colored)}
    if not colored:
        return summary

    def mean(values):
        return float(np.mean(list(values)))

    for side in SIDES:
        summary[side] = {name: mean(r[side][name] for r in colored) for name in MEASURES}
    summary["original"] = {name: mean(r["original"][name] for r in colored) for name in ORIGINAL_MEASURES}
    summary["ratios"] = {
        "ab_mse_vs_gray": summary["model"]["ab_mse"] / summary["gray"]["ab_mse"],
        "ab_mse_vs_constant": summary["model"]["ab_mse"] / summary["constant"]["ab_mse"],
        "colorfulness_vs_original": summary["model"]["colorfulness"] / summary["original"]["colorfulness"],
        "ab_spread_vs_original": summary["model"]["ab_spread"] / summary["original"]["ab_spread"],
        "false_color_vs_original": float(metrics.false_color_ratio(summary["model"]["false_color"],
                                                                   summary["original"]["false_color"])),
        "top1_gain_over_gray": summary["model"]["top1"] - summary["gray"]["top1"],
    }

    def column(side, name):
        return [r[side][name] for r in colored]

    summary["intervals"] = {
        "ab_mse_vs_gray": bootstrap_interval(column("model", "ab_mse"), column("gray", "ab_mse")),
        "ab_mse_vs_constant": bootstrap_interval(column("model", "ab_mse"), column("constant", "ab_mse")),
        "top1_gain_over_gray": bootstrap_interval(np.subtract(column("model", "top1"), column("gray", "top1"))),
    }
    summary["photo_color_std"] = {
        "model": float(np.mean(np.std([r["model_mean_ab"] for r in colored], axis=0))),
        "original": float(np.mean(np.std([r["original"]["mean_ab"] for r in colored], axis=0)))}
    for baseline in ("gray", "constant"):
        wins = [beats(record, baseline) for record in colored]
        summary[f"model_beats_{baseline}"] = {name: mean(win[name] for win in wins) for name in MEASURES}
    return summary


METRIC_LABELS = {
    "psnr": "PSNR (dB, higher better)",
    "ssim": "SSIM (higher better)",
    "ab_mse": "ab-MSE (lower better)",
    "colorfulness": "colorfulness (near original)",
    "ab_spread": "ab spread in a photo (near original)",
    "top1": "classifier top-1 = original's (higher better)",
    "top5": "original's top-1 in top 5 (higher better)",
    "false_color": "false-color pixels (near original)",
}


def format_value(name: str, value: float) -> str:
    """A measure's value for display: false color as a percentage of the pixels, the rest to 3 decimals."""
    return f"{value:.3%}" if name == "false_color" else f"{value:.3f}"


def summary_rows(report: dict) -> list[tuple[str, ...]]:
    """(measure, model, gray, constant, original, model beats gray, model beats constant) as display strings."""
    summary = report["summary"]
    if "model" not in summary:
        return []
    rows = []
    for name in MEASURES:
        original = format_value(name, summary["original"][name]) if name in summary["original"] else ""
        rows.append((METRIC_LABELS[name], *(format_value(name, summary[side][name]) for side in SIDES), original,
                     f"{summary['model_beats_gray'][name]:.0%}", f"{summary['model_beats_constant'][name]:.0%}"))
    return rows


SUMMARY_HEADER = ("measure", "model", "gray", "best constant", "original", "beats gray", "beats constant")


def headline(report: dict) -> str:
    """The verdict in one line: the model against both baselines (with 95 % bootstrap intervals over the
    photos), how vivid it is, whether the classifier recognises more, and its false color."""
    summary = report["summary"]
    if "ratios" not in summary:
        return "no color photos evaluated"
    ratios, intervals = summary["ratios"], summary["intervals"]
    model, gray, constant = (summary[side] for side in SIDES)
    return (f"ab-MSE {ratios['ab_mse_vs_constant']:.2f}x the best constant color's "
            f"(95 % interval {_interval(intervals['ab_mse_vs_constant'])}; {ratios['ab_mse_vs_gray']:.2f}x gray's); "
            f"colorfulness {ratios['colorfulness_vs_original']:.2f}x the originals'; PSNR {model['psnr']:.2f} dB "
            f"(gray {gray['psnr']:.2f}, constant {constant['psnr']:.2f}); classifier top-1 agrees on "
            f"{model['top1']:.2f} of the photos (gray {gray['top1']:.2f}, constant {constant['top1']:.2f}; "
            f"gain {ratios['top1_gain_over_gray']:+.2f}, {_interval(intervals['top1_gain_over_gray'], '+.2f')}); "
            f"false color {model['false_color']:.3%} of pixels (originals {summary['original']['false_color']:.3%}); "
            f"photo colors vary {summary['photo_color_std']['model']:.1f} "
            f"(originals {summary['photo_color_std']['original']:.1f})")


def _interval(bounds, spec=".2f") -> str:
    return f"{format(bounds[0], spec)} to {format(bounds[1], spec)}"


def format_summary(report: dict) -> str:
    """A plain-text table of ``summary_rows`` with what was counted and the headline."""
    summary = report["summary"]
    counted = (f"{summary['photos']} color photos evaluated; {summary['already_gray']} already "
               f"black-and-white and {len(report['unreadable'])} unreadable left out; best constant color "
               f"(a, b) = ({report['constant_ab'][0]:.1f}, {report['constant_ab'][1]:.1f})")
    rows = summary_rows(report)
    if not rows:
        return counted + "\n"
    table = [SUMMARY_HEADER, *rows]
    widths = [max(len(row[column]) for row in table) for column in range(len(table[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in table]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join([counted, headline(report), "", *lines]) + "\n"


def resolve_saved_model_dir(path) -> Path:
    """``path`` itself if it holds saved_model.pb, else its newest loadable version (``serving_contract``)."""
    path = Path(path)
    if (path / contract.SAVED_MODEL_FILE).is_file():
        return path
    versions = contract.loadable_versions(path)
    if not versions:
        raise FileNotFoundError(f"no SavedModel in {path} nor in an integer version subdirectory of it")
    return path / str(versions[-1])


def saved_model_colorizer(path, temperature: Optional[float] = None) -> ColorizeFn:
    """A ``colorize_fn`` calling the ``serving_default`` signature of a SavedModel, in-process
    (``serving_contract``: encoded images in, PNG bytes out, as the served model does). ``temperature``
    re-tempers a bin classifier's annealed mean (``network.AnnealedMean``) in this copy of the model, so
    one training is measured at several temperatures."""
    loaded = tf.saved_model.load(str(resolve_saved_model_dir(path)))
    if contract.SERVING_SIGNATURE not in loaded.signatures:
        raise ValueError(f"{path} has no {contract.SERVING_SIGNATURE} signature (it has {list(loaded.signatures)})")
    if temperature is not None:
        variables = [variable for variable in getattr(loaded, "variables", ())
                     if variable.name.split("/")[-1].startswith("temperature")]
        if not variables:
            raise ValueError(f"{path} has no annealed mean to re-temper (it is not a bin classifier)")
        for variable in variables:
            variable.assign(temperature)

    def colorize(images: list[bytes]) -> list[bytes]:
        # Looked up through ``loaded`` on each call: the signature's variables live only as long as it.
        signature = loaded.signatures[contract.SERVING_SIGNATURE]
        outputs = signature(**{contract.IMAGES_INPUT: tf.constant(images, dtype=tf.string)})
        return [bytes(png) for png in outputs[contract.COLORIZED_OUTPUT].numpy()]

    return colorize
