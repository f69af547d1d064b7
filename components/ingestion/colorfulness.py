"""Is this photo black-and-white? Hasler & Suesstrunk's colorfulness, measured on a thumbnail.

colorfulness = sqrt(std(rg)^2 + std(yb)^2) + 0.3 * sqrt(mean(rg)^2 + mean(yb)^2),
with rg = R - G and yb = (R + G) / 2 - B, on 0..255 RGB ("Measuring colourfulness in natural
images", 2003). 0 means gray; the paper calls ~15 "slightly colorful" and ~33 "moderately".

Why this number and a threshold of 5: JPEG noise in a black-and-white photo stored as RGB adds
tiny, unstructured chroma. Measuring on a <= 256 px thumbnail (an area average) smooths that noise
away, and the statistic pools the whole image, so a few noisy pixels cannot lift it. Measured on
the project's photos: the eight black-and-white ``seed-unsplash/test`` JPEGs score <= 1.4, the least
colorful of the 300 BSDS500 photos scores 9.3. Toned photos (sepia, cyanotype) carry a real
color cast and score above the threshold: they are kept, as their colors are real pixels.
"""
import numpy as np
from PIL import Image

THUMBNAIL_SIDE = 256


def colorfulness(rgb: Image.Image) -> float:
    """Colorfulness of an RGB PIL image (see the module docstring)."""
    thumbnail = rgb.copy()
    thumbnail.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.BOX)
    pixels = np.asarray(thumbnail, dtype=np.float32)
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    rg = red - green
    yb = 0.5 * (red + green) - blue
    spread = np.hypot(rg.std(), yb.std())
    cast = np.hypot(rg.mean(), yb.mean())
    return float(spread + 0.3 * cast)
