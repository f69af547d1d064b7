"""``colornet fetch-unsplash``: the Unsplash dataset's photos as the next span folder.

Exit codes: 0 when every photo was fetched (or nothing was new), 1 when some failed (the others
are still published), 2 for usage errors (a missing or unusable manifest, a fetch already running
on the same manifests), 130 when interrupted (Ctrl-C; the same command resumes).
"""
import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "fetch-unsplash", help="download the Unsplash dataset's photos as the next span folder",
        description="Reads the photos table of an Unsplash dataset (the downloaded zip, or photos.tsv000 "
                    "files), downloads each photo not yet in a span at --width pixels, and publishes them "
                    "as the next span folder under --images, with a .provenance.jsonl crediting each "
                    "photographer. An interrupted run resumes where it stopped when run again.")
    parser.add_argument("--manifest", required=True, action="extend", nargs="+", dest="manifests", metavar="MANIFEST",
                        help="the dataset zip, or photos.tsv00N files (repeatable)")
    parser.add_argument("--images", required=True, help="folder holding span-1/, span-2/, ...")
    parser.add_argument("--width", type=_number(int, 1), default=512,
                        help="width to download at, in pixels (default: %(default)s; a narrower original stays as is)")
    parser.add_argument("--limit", type=_number(int, 1), help="at most this many new photos (default: all)")
    parser.add_argument("--workers", type=_number(int, 1), default=8, help="parallel downloads (default: %(default)s)")
    parser.add_argument("--rate", type=_number(float, 0, strictly_above=True), default=10.0,
                        help="most requests per second to one host (default: %(default)s)")
    parser.add_argument("--timeout", type=_number(float, 0, strictly_above=True), default=30.0,
                        help="seconds a photo's download may take, per try (default: %(default)s)")
    parser.add_argument("--retries", type=_number(int, 0), default=4,
                        help="tries after the first on 429, 5xx, timeouts, broken connections (default: %(default)s)")
    parser.add_argument("--backoff", type=_number(float, 0), default=1.0,
                        help="seconds before the first retry, doubled for each next one (default: %(default)s)")
    parser.add_argument("--base-url", type=_base_url,
                        help="fetch from a mirror or local copy: replaces the scheme and host of each image URL, "
                             "its path goes in front, e.g. http://mirror.example/unsplash")
    parser.add_argument("--dataset-name",
                        help="the dataset's name in each photo's provenance (default: the zip's file name without "
                             ".zip, e.g. unsplash-research-dataset-lite-latest, or the folder of the photos.tsv "
                             "files): Lite and Full come under different terms")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.set_defaults(func=run)


def run(args) -> int:
    # requests and Pillow load only when the command runs, so `colornet --help` stays quick.
    from . import fetch
    from .checkpoint import WorkFolderBusy
    from .download import RetryPolicy
    from .manifest import ManifestError

    policy = RetryPolicy(retries=args.retries, backoff=args.backoff, timeout=args.timeout)
    try:
        summary = fetch.fetch(args.manifests, args.images, width=args.width, limit=args.limit, workers=args.workers,
                              base_url=args.base_url, rate=args.rate, policy=policy, progress=args.progress,
                              dataset=args.dataset_name)
    except (ManifestError, WorkFolderBusy) as error:
        print(error)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted: the photos fetched so far are kept; the same command resumes.")
        return 130
    print(summary.describe())
    if summary.span:
        print(f"Photos in {args.images}/span-{summary.span}; `colornet retrain --images {args.images}` trains on them.")
    return 1 if summary.failed else 0


def _number(number_type, minimum, strictly_above=False):
    """An argparse type: a ``number_type`` of at least ``minimum`` (above it, with ``strictly_above``)."""
    def parse(text):
        value = number_type(text)
        if value < minimum or (strictly_above and value == minimum):
            raise argparse.ArgumentTypeError(f"{text} is {'not above' if strictly_above else 'below'} {minimum}")
        return value
    return parse


def _base_url(text):
    from .download import check_base_url  # imports requests: only when the flag is given

    try:
        return check_base_url(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
