"""Measured colorization quality: per-photo metrics beside a grayscale baseline, folder evaluation, galleries."""
