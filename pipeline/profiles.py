"""Named model/training settings: ``full`` is the article's model, ``demo`` fits a laptop CPU run,
``cpu-beta`` is the classifier-free variant that benchmarks/quality.py trains by default."""

PROFILES = {
    # The article's full version: fusion with Inception-ResNet-v2 at 256 px.
    "full": {
        "model": {"variant": "fusion", "image_size": 256, "backbone": "inception_resnet_v2"},
        "training": {"batch_size": 8, "epochs": 10},
        "train_steps": 5000,
        "eval_steps": 20,
    },
    # A few minutes on 2 CPU cores: same graph shape, a light backbone at a small size.
    "demo": {
        "model": {"variant": "fusion", "image_size": 128, "backbone": "mobilenet_v2", "backbone_size": 96},
        "training": {"batch_size": 4, "epochs": 4},
        "train_steps": 160,
        "eval_steps": 2,
    },
    # No classifier (nothing to download), small enough to learn real photos' colors on 2 CPU
    # cores in ~10 minutes; benchmarks/quality.py measures it on bsds500/val.
    "cpu-beta": {
        "model": {"variant": "beta", "image_size": 64, "loss": "mse"},
        "training": {"batch_size": 8, "epochs": 40},
        "train_steps": 1000,
        "eval_steps": 2,
    },
}


def profile_settings(name):
    """A deep copy of a profile's settings (callers may edit them)."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose from {sorted(PROFILES)}")
    settings = PROFILES[name]
    return {key: dict(value) if isinstance(value, dict) else value for key, value in settings.items()}
