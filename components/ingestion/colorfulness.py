"""Is this photo black-and-white? Hasler & Suesstrunk's colorfulness, measured on a thumbnail.

The statistic is ``quality.metrics.colorfulness``, the one the quality reports use (Hasler &
Suesstrunk 2003, on 0..255 RGB): 0 means gray; the paper calls ~15 "slightly colorful" and ~33
"moderately".

Why this number and a threshold of 5: JPEG noise in a black-and-white photo stored as RGB adds
tiny, unstructured chroma. Measuring on a <= 256 px thumbnail (an area average) smooths that noise
away, and the statistic pools the whole image, so a few noisy pixels cannot lift it. Measured on
the project's photos: the eight black-and-white ``seed-unsplash/test`` JPEGs score <= 1.4, the least
colorful of the 300 BSDS500 photos scores 9.3. Toned photos (sepia, cyanotype) carry a real
color cast and score above the threshold: they are kept, as their colors are real pixels.
"""
import numpy as np
from PIL import Image

from colornet.components.quality import metrics

THUMBNAIL_SIDE = 256


def colorfulness(rgb: Image.Image) -> float:
    """Colorfulness of an RGB PIL image (see the module docstring)."""
    thumbnail = rgb.copy()
    thumbnail.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.BOX)
    return metrics.colorfulness(np.asarray(thumbnail))
