"""Issue 18's measures against training CPU-minutes, drawn from ``benchmarks/results/quality*.json``
(written by ``quality.py``) as one picture: ``docs/quality-curves.png``.

    .venv/bin/python benchmarks/quality_curves.py

One panel per measure (ab-MSE / the best constant's, PSNR over gray, colorfulness / the originals', the
classifier test's top-1 gain over gray, false color / the originals'), each with its target (dashed) and
gray's own value (dotted). The line is the `cpu` profile's recipe (Huber, Lite0 frozen) at seed 2 over three budgets
(``SERIES``); every other result file is a labelled point: other seeds, losses, profiles, temperatures,
each labelled with its loss and how many of Lite0's stages trained (``recipe``).
CPU-minutes are the Trainer's own (``training_summary.json``); the machine was shared, so a point's cost
carries its load (recorded in its file).
"""
import json

from PIL import Image, ImageDraw, ImageFont

import common

# The profile's recipe over budgets, same seed and quality-pass cost: the curve the issue asks for.
SERIES = ("quality_frozen350.json", "quality_frozen600.json", "quality_frozen750.json")
# Files left out: the 128 px recipe before 224 px (quality_short.json), the first 224 px budgets, whose
# CPU-minutes include a per-epoch quality pass 6x as costly as today's (quality_first224.json), and a
# training that quality_cpu600.json repeats with the gate's verdict recorded.
LEFT_OUT = ("quality_short.json", "quality_first224.json", "quality_cpu600_gate.json")

# (key in a run's summary, title, target, direction, gray's value)
PANELS = (
    (("ratios", "ab_mse_vs_constant"), "ab-MSE / best constant (lower is better)", 0.90, "max", None),
    (("psnr_over_gray",), "PSNR over gray, dB", 1.5, "min", 0.0),
    (("ratios", "colorfulness_vs_original"), "colorfulness / originals'", 0.70, "min", 0.0),
    (("ratios", "top1_gain_over_gray"), "classifier top-1 gain over gray", 0.10, "min", 0.0),
    (("ratios", "false_color_vs_original"), "false color / originals' (lower is better)", 1.5, "max", 1.0),
)
WIDTH, HEIGHT, MARGIN = 330, 250, 48
COLORS = ("#1f6fb4", "#d2691e", "#2e8b57", "#8b3a9a", "#b22222", "#6b6b6b", "#c71585", "#008b8b", "#8b8000",
          "#ff8c00", "#4169e1", "#556b2f", "#800000", "#2f4f4f", "#9acd32", "#483d8b")


def value(summary, key):
    if key == ("psnr_over_gray",):
        return summary["model"]["psnr"] - summary["gray"]["psnr"]
    return summary[key[0]][key[1]]


def recipe(data):
    """The loss a result file trained with, how many of Lite0's stages trained (the profile's setting changed
    over time, so it is read from each file), and its other ``--model`` overrides."""
    overrides = dict(data.get("model_overrides", {}))
    profile = data["settings"]["model"]
    loss = overrides.pop("loss", profile.get("loss", "mse"))
    stages = overrides.pop("encoder_trainable_stages", profile.get("encoder_trainable_stages", 0))
    return ", ".join([loss, f"{stages} stages trained" if stages else "frozen",
                      *(f"{key}={value}" for key, value in overrides.items())])


def points():
    """(label, cpu minutes, summary) of every run of every result file, and the series' points in order
    (labelled by their budget alone: the legend names their recipe once)."""
    others, series = [], []
    for path in sorted(common.RESULTS_DIR.glob("quality*.json")):
        if path.name in LEFT_OUT:
            continue
        data = json.loads(path.read_text())
        for run in data["runs"]:
            temperature = f", T {run['temperature']:g}" if run.get("temperature") is not None else ""
            minutes, summary = run["training"]["cpu_minutes"], run["summary"]
            if path.name in SERIES:
                series.append((f"{run['train_steps']} steps", minutes, summary))
            else:
                others.append((f"{path.stem}: {data['profile']} ({recipe(data)}) {run['train_steps']} steps, "
                               f"seed {data['seed']}{temperature}", minutes, summary))
    return sorted(series, key=lambda entry: entry[1]), others


def _font(size):
    return ImageFont.load_default(size=size)


def _dashed(draw, x0, x1, y, color, dash, gap):
    position = x0
    while position < x1:
        draw.line([(position, y), (min(position + dash, x1), y)], fill=color, width=1)
        position += dash + gap


def panel(draw, index, key, title, target, direction, gray, series, others, x_range):
    """One panel, at column ``index % 3``, row ``index // 3``."""
    left, top = (index % 3) * WIDTH, (index // 3) * HEIGHT
    values = [value(summary, key) for _, _, summary in series + others] + [target] + ([gray] if gray is not None else [])
    low, high = min(values), max(values)
    low, high = low - 0.08 * (high - low), high + 0.08 * (high - low)
    (x_low, x_high), plot_w, plot_h = x_range, WIDTH - MARGIN - 12, HEIGHT - MARGIN - 28

    def x(minutes):
        return left + MARGIN + (minutes - x_low) / (x_high - x_low) * plot_w

    def y(measure):
        return top + 24 + (high - measure) / (high - low) * plot_h

    draw.text((left + MARGIN, top + 4), title, fill="black", font=_font(12))
    draw.rectangle([left + MARGIN, top + 24, left + MARGIN + plot_w, top + 24 + plot_h], outline="#999999")
    for fraction in (0.0, 0.5, 1.0):
        measure = low + fraction * (high - low)
        draw.text((left + MARGIN - 4, y(measure)), f"{measure:.2f}", fill="black", font=_font(10), anchor="rm")
    for minutes in range(int(x_low // 5 * 5 + 5), int(x_high) + 1, 5):
        draw.text((x(minutes), top + 30 + plot_h), str(minutes), fill="black", font=_font(10), anchor="mt")
    draw.text((left + MARGIN + plot_w / 2, top + HEIGHT - 6), "training CPU-minutes (2 cores)", fill="black",
              font=_font(10), anchor="mb")
    _dashed(draw, x(x_low), x(x_high), y(target), "#b22222", 6, 4)
    draw.text((x(x_high) - 2, y(target) - 2), f"target {'<=' if direction == 'max' else '>='} {target:g}",
              fill="#b22222", font=_font(10), anchor="rb")
    if gray is not None:
        _dashed(draw, x(x_low), x(x_high), y(gray), "#777777", 2, 3)
        draw.text((x(x_low) + 2, y(gray) - 2), "gray", fill="#777777", font=_font(10), anchor="lb")
    line = [(x(minutes), y(value(summary, key))) for _, minutes, summary in series]
    draw.line(line, fill="black", width=2)
    for number, (_, minutes, summary) in enumerate(others):
        color, (cx, cy) = COLORS[number % len(COLORS)], (x(minutes), y(value(summary, key)))
        draw.ellipse([cx - 4, cy - 4, cx + 4, cy + 4], fill=color)
        draw.text((cx + 5, cy), str(number + 1), fill=color, font=_font(10), anchor="lm")
    for cx, cy in line:
        draw.ellipse([cx - 4, cy - 4, cx + 4, cy + 4], fill="black")


def legend(draw, series, others, top):
    draw.text((MARGIN, top), "black line: the cpu profile (Huber, Lite0 frozen), seed 2: " + ", ".join(
        f"{label} ({minutes:.1f} CPU-min)" for label, minutes, _ in series), fill="black", font=_font(11))
    for number, (label, minutes, _) in enumerate(others):
        draw.text((MARGIN, top + 16 * (1 + number)),
                  f"{number + 1}: {label} ({minutes:.1f} CPU-min)", fill=COLORS[number % len(COLORS)], font=_font(11))


def legend_height(others):
    return 16 * (2 + len(others))


def main():
    series, others = points()
    minutes = [entry[1] for entry in series + others]
    x_range = (min(minutes) - 1.5, max(minutes) + 1.5)
    image = Image.new("RGB", (3 * WIDTH, 2 * HEIGHT + 16 + legend_height(others)), "white")
    draw = ImageDraw.Draw(image)
    for index, (key, title, target, direction, gray) in enumerate(PANELS):
        panel(draw, index, key, title, target, direction, gray, series, others, x_range)
    legend(draw, series, others, 2 * HEIGHT + 8)
    output = common.ROOT / "docs" / "quality-curves.png"
    image.save(output)
    print(f"{len(series)} budgets on the curve, {len(others)} other runs: {output}")


if __name__ == "__main__":
    main()
