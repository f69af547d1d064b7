"""``colornet evaluate``: measure a SavedModel on a folder of color photos, beside gray and the best constant color."""
import argparse
import json
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="measure a colorization model on a folder of color photos",
        description="Makes each photo gray, colorizes it with the model and compares it with the original "
                    "(PSNR, SSIM, ab-MSE, colorfulness, ab spread, false color, and whether an ImageNet classifier "
                    "names the same class as for the original), beside two baselines: the gray photo and the "
                    "best constant color (every pixel painted with the folder's mean ab).")
    parser.add_argument("--model", required=True, type=Path,
                        help="SavedModel directory, or a base directory of integer versions (the largest is used)")
    parser.add_argument("--images", required=True, type=Path, help="folder of color photos (recursive; any format the client reads)")
    parser.add_argument("--max-images", type=int, default=None, help="evaluate only the first N photos")
    parser.add_argument("--batch-size", type=int, default=8, help="photos per call to the model (default 8)")
    parser.add_argument("--json", type=Path, default=None, help="write the full report (per photo and means) here")
    parser.add_argument("--gallery", type=Path, default=None, help="write an HTML gallery here")
    parser.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    # TensorFlow loads only when the command runs, so `colornet --help` stays quick.
    from . import gallery
    from . import report as report_lib

    colorize = report_lib.saved_model_colorizer(args.model)
    photo_gallery = gallery.Gallery() if args.gallery else None
    report = report_lib.evaluate_folder(colorize, args.images, max_images=args.max_images,
                                      batch_size=args.batch_size,
                                      on_photo=photo_gallery.add if photo_gallery else None)
    report["model"] = str(report_lib.resolve_saved_model_dir(args.model))
    print(report_lib.format_summary(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"report: {args.json}")
    if photo_gallery:
        photo_gallery.write(report, args.gallery, title=f"Colorization quality: {report['model']}")
        print(f"gallery: {args.gallery}")
    return 0
