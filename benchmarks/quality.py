"""Colorization quality through the product: `colornet run` with a named profile on the shared training
photos, then the trained model on photos it never saw, beside gray and the best constant color.

    .venv/bin/python benchmarks/quality.py [--profile cpu] [--fractions 0.25 0.5 1 | --steps N ...] [--max-val N]
        [--model KEY=VALUE ...] [--temperatures T ...] [--seed 1] [--name quality]

Trains with the pipeline itself (``local_runner.run`` on ``pipeline_config(profile, ...)``: ingestion,
Transform, Trainer, Evaluator) on ``shared/data/bsds500/train`` + ``seed-unsplash/train`` +
``imagenet-samples`` (1,000 photos, one per ImageNet class), once per
fraction of the profile's training steps (same seed, same data; ingestion and Transform are cached
after the first run), and evaluates each trained model's ``serving_default`` on
``shared/data/bsds500/val`` (100 photos, never trained on) with ``components/evaluation/report.py``.
Prints, per budget: training CPU-minutes (the Trainer's own ``training_summary.json``), ab-MSE beside
gray and the constant (with its 95 % bootstrap interval over the photos), PSNR / SSIM / colorfulness /
spread, the classifier test (top-1 agreement with the original: model, gray) and false color (model,
originals), whether issue 18's targets are met, and the pipeline gate's verdict on its own eval split (would
`colornet run` push this model?); writes ``benchmarks/results/<name>.json`` (with nproc and load average), an
HTML gallery per budget and ``docs/<name>-gallery.jpg`` (a grid of val photos colorized by the profile's
own budget when it is among those trained, else the largest).
"""
import argparse
import json
import os
import pathlib
import shutil
import tempfile

import common

# Issue 18's targets on bsds500/val: ab-MSE at most 0.90x the best constant's, colorfulness at least 0.7x the
# originals', PSNR at least gray's + 1.5 dB (and above the constant's), classifier top-1 agreement at least gray's
# + 0.10, false color at most 1.5x the originals' (``metrics.false_color_ratio``).
TARGETS = {"ab_mse_vs_constant": 0.90, "colorfulness_vs_original": 0.7, "psnr_over_gray_db": 1.5,
           "top1_gain_over_gray": 0.10, "false_color_vs_original": 1.5}
TRAIN_FOLDERS = ("bsds500/train", "seed-unsplash/train", "imagenet-samples")
GALLERY_PHOTOS = 12


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", help="named settings of schemas/config.py (default: cpu)")
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 1.0],
                        help="fractions of the profile's training steps, one training each (default: 0.25 0.5 1)")
    parser.add_argument("--steps", type=int, nargs="+", default=None,
                        help="training steps, one training each (instead of --fractions)")
    parser.add_argument("--name", default="quality", help="results/<name>.json and docs/<name>-gallery.jpg")
    parser.add_argument("--max-val", type=int, default=None, help="evaluate only the first N val photos")
    parser.add_argument("--workdir", default=None, help="default: a new temporary directory")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--temperatures", type=float, nargs="+", default=[None],
                        help="bin classifiers (--model loss=classification): evaluate each trained model at each "
                             "annealed-mean temperature (default: the one it was trained with)")
    parser.add_argument("--model", nargs="+", default=[], metavar="KEY=VALUE",
                        help="overrides of the profile's model section (ModelConfig keys, e.g. loss=rebalanced)")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="no training: evaluate the newest Trainer run of --workdir that trained each budget's "
                             "steps with --seed and the profile's model settings and --model overrides "
                             "(re-measure a trained model with today's measures)")
    args = parser.parse_args()
    args.model = dict(common.model_setting(item) for item in args.model)
    return args


def training_photos(workdir):
    """The shared training photos copied into one folder (ingestion refuses links leading outside it)."""
    images = pathlib.Path(workdir) / "images"
    for folder in TRAIN_FOLDERS:
        target = images / folder.replace("/", "-")
        if not target.exists():
            shutil.copytree(common.SHARED_DATA / folder, target)
    return images


def trained_run(pipeline_root, steps, seed, model):
    """The newest Trainer run under ``pipeline_root`` that trained ``steps`` optimizer steps with ``seed`` and
    the ``model`` settings (its ``training_summary.json`` says what it trained)."""
    def trained(run):
        summary = json.loads((run / "training_summary.json").read_text())
        return (summary["optimizer_steps"] == steps and summary.get("seed") == seed
                and all(summary.get("model", {}).get(key) == value for key, value in model.items()))

    runs = [run for run in pathlib.Path(pipeline_root, "Trainer", "model_run").glob("*") if run.name.isdigit()
            and (run / "training_summary.json").exists() and trained(run)]
    if not runs:
        raise SystemExit(f"no Trainer run of {steps} steps, seed {seed} and model {model} under {pipeline_root}")
    return max(runs, key=lambda run: int(run.name))


def newest_trainer_run(pipeline_root):
    """The newest Trainer execution's run directory (TFX names them by execution id)."""
    runs = pathlib.Path(pipeline_root, "Trainer", "model_run").glob("*")
    return max((run for run in runs if run.name.isdigit()), key=lambda run: int(run.name))


def train(profile, images, workdir, steps, seed, model):
    """One `colornet run` of ``profile`` with ``steps`` training steps and the ``model`` overrides; returns
    the Trainer's run dir and the pipeline gate's verdict on its own eval split (``Verdict.to_dict``)."""
    from colornet.components.evaluation import evaluator
    from colornet.pipeline import local_runner
    from colornet.schemas.config import pipeline_config

    config = pipeline_config(profile, images, workdir, train_steps=steps, warm_start=False,
                             training={"seed": seed}, model=model, beam_args=["--direct_running_mode=in_memory"])
    local_runner.run(config)
    verdict = evaluator.latest_verdict(config.pipeline_root, config.blessing)
    return newest_trainer_run(config.pipeline_root), {**verdict.to_dict(), "line": verdict.line()}


def evaluate(model_run, max_val, gallery_path, title, pictures, temperature=None):
    """The trained model (re-tempered to ``temperature`` if given) on bsds500/val: the report, an HTML gallery,
    and the first photos' pictures appended to ``pictures`` as (gray, constant, colorized, original) rows."""
    from colornet.components.evaluation import gallery, report

    serving_model = model_run.parent.parent / "model" / model_run.name / "Format-Serving"
    photo_gallery = gallery.Gallery()

    def on_photo(result):
        photo_gallery.add(result)
        if len(pictures) < GALLERY_PHOTOS:
            pictures.append((result.gray, result.constant, result.colorized, result.original))

    result = report.evaluate_folder(report.saved_model_colorizer(serving_model, temperature),
                                    common.SHARED_DATA / "bsds500" / "val",
                                    max_images=max_val, on_photo=on_photo)
    photo_gallery.write(result, gallery_path, title=title)
    print(report.format_summary(result), flush=True)
    return result


def targets_met(summary):
    ratios = summary["ratios"]
    psnr_gain = summary["model"]["psnr"] - summary["gray"]["psnr"]
    return {
        "ab_mse_vs_constant": ratios["ab_mse_vs_constant"] <= TARGETS["ab_mse_vs_constant"],
        "colorfulness_vs_original": ratios["colorfulness_vs_original"] >= TARGETS["colorfulness_vs_original"],
        "psnr_over_gray_db": psnr_gain >= TARGETS["psnr_over_gray_db"]
        and summary["model"]["psnr"] > summary["constant"]["psnr"],
        "top1_gain_over_gray": ratios["top1_gain_over_gray"] >= TARGETS["top1_gain_over_gray"],
        "false_color_vs_original": ratios["false_color_vs_original"] <= TARGETS["false_color_vs_original"],
    }


def gallery_image(pictures, output):
    """A JPEG grid of gray | best constant | colorized | original rows (committed under docs/ for the README:
    a third of the PNG's bytes)."""
    from PIL import Image

    from colornet.components.evaluation import gallery

    grid = gallery.comparison_grid(pictures, cell_width=160, labels=gallery.GALLERY_COLUMNS)
    output.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(output, quality=85, optimize=True)
    return output


def table(runs):
    header = ("train steps", "T", "CPU-min", "ab-MSE", "gray", "constant", "vs const", "95 %", "PSNR", "gray", "const",
              "SSIM", "colorful", "orig", "spread", "orig", "top-1", "gray", "const", "false color", "orig")
    rows = [header]
    for run in runs:
        s = run["summary"]
        rows.append((str(run["train_steps"]), "model's" if run.get("temperature") is None else f"{run['temperature']:g}",
                     f"{run['training']['cpu_minutes']:.1f}",
                     f"{s['model']['ab_mse']:.1f}", f"{s['gray']['ab_mse']:.1f}", f"{s['constant']['ab_mse']:.1f}",
                     f"{s['ratios']['ab_mse_vs_constant']:.3f}",
                     "{:.2f}-{:.2f}".format(*s["intervals"]["ab_mse_vs_constant"]), f"{s['model']['psnr']:.2f}",
                     f"{s['gray']['psnr']:.2f}", f"{s['constant']['psnr']:.2f}", f"{s['model']['ssim']:.3f}",
                     f"{s['model']['colorfulness']:.1f}", f"{s['original']['colorfulness']:.1f}",
                     f"{s['model']['ab_spread']:.1f}", f"{s['original']['ab_spread']:.1f}",
                     *(f"{s[side]['top1']:.2f}" for side in ("model", "gray", "constant")),
                     f"{s['model']['false_color']:.3%}", f"{s['original']['false_color']:.3%}"))
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in rows)


def main():
    args = parse_args()
    from colornet.schemas.config import PROFILES

    workdir = pathlib.Path(args.workdir or tempfile.mkdtemp(prefix="colornet-quality-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"work directory: {workdir}", flush=True)
    images = training_photos(workdir)
    profile_steps = PROFILES[args.profile]["train_steps"]
    runs, shown = [], None
    budgets = sorted(args.steps or [max(1, round(profile_steps * fraction)) for fraction in args.fractions])
    for steps in budgets:
        fraction = steps / profile_steps
        gate = None  # the pipeline's verdict: known when this invocation trained
        if args.evaluate_only:
            model_run = trained_run(workdir / "pipeline" / "tfx", steps, args.seed,
                                    {**PROFILES[args.profile]["model"], **args.model})
        else:
            print(f"[{args.profile}] training {steps} steps ({fraction:g} of the profile's)", flush=True)
            model_run, gate = train(args.profile, images, workdir / "pipeline", steps, args.seed, args.model)
            print(gate["line"], flush=True)
        training = json.loads((model_run / "training_summary.json").read_text())
        for temperature in args.temperatures:
            label = f"{steps}" if temperature is None else f"{steps}_T{temperature:g}"
            pictures = []
            result = evaluate(model_run, args.max_val, workdir / f"gallery_{label}.html",
                              f"bsds500/val, profile {args.profile}, {steps} steps", pictures, temperature)
            runs.append({"train_steps": steps, "fraction": fraction, "temperature": temperature, "training": training,
                         "summary": result["summary"], "constant_ab": result["constant_ab"],
                         "targets_met": targets_met(result["summary"]), "gallery": str(workdir / f"gallery_{label}.html"),
                         "model_run": str(model_run), "gate": gate})
            # The gallery: the profile's own budget if trained, else the largest; at the first temperature.
            if shown is None or shown[0]["train_steps"] not in (steps, profile_steps):
                shown = (runs[-1], pictures)
            # Written after every evaluation: a run stopped during a long budget keeps what it finished.
            path = common.write_json(args.name, {
                "profile": args.profile, "settings": PROFILES[args.profile], "model_overrides": args.model,
                "seed": args.seed, "train_folders": list(TRAIN_FOLDERS), "eval_folder": "bsds500/val",
                "targets": TARGETS, "nproc": os.cpu_count(), "load_average": os.getloadavg(), "runs": runs})
            print(f"results so far: {path}", flush=True)
    print(table(runs))
    best, pictures = shown
    print(f"gallery of {best['train_steps']} steps: "
          f"{gallery_image(pictures, common.ROOT / 'docs' / f'{args.name}-gallery.jpg')}")
    print(f"{best['train_steps']} steps, {best['training']['cpu_minutes']:.1f} training CPU-minutes; "
          f"targets met: {best['targets_met']}")
    return 0 if all(best["targets_met"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
