"""The URL a photo is requested from: the manifest's ``photo_image_url`` with resizing parameters.

Unsplash's image service (imgix) resizes on request: ``w=`` the width, ``fit=max`` keeps the
aspect ratio and never enlarges, ``fm=jpg`` and ``q=`` the encoding. Parameters already in the
manifest's URL are kept unless these replace them.

``base_url`` points the requests at a mirror or a local copy: it replaces the scheme and host,
and its path is put in front of the photo's path (``http://127.0.0.1:8000/unsplash`` turns
``https://images.unsplash.com/photo-1-a?ixid=x`` into ``http://127.0.0.1:8000/unsplash/photo-1-a?ixid=x&w=...``).
A server that ignores ``w=`` still works: ``content`` scales what it sends.

Some dataset rows carry broken URLs whose host swallowed part of the file name
(``https://images.unsplash.com.jpg/``, ``https://images.unsplash.company%20by...``; unsplash/datasets
issues #46 and #61). Such a URL names no photo on any mirror either, so only http(s) URLs on an
``unsplash.com`` host with a path are requested; the rest fail as ``bad_url`` without a request.
"""
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .failure import PhotoFailed

JPEG_QUALITY = 85
_UNSPLASH_DOMAIN = "unsplash.com"


def request_url(image_url: str, width: int, base_url: str = None) -> str:
    """The URL to fetch ``image_url`` at ``width`` pixels wide; raises ``PhotoFailed("bad_url")``."""
    try:
        parts = urlsplit(image_url)
        host = parts.hostname or ""
    except ValueError as error:  # e.g. an invalid port or IPv6 literal
        raise PhotoFailed("bad_url", f"{image_url!r}: {error}") from error
    on_unsplash = host == _UNSPLASH_DOMAIN or host.endswith("." + _UNSPLASH_DOMAIN)
    if parts.scheme not in ("http", "https") or not on_unsplash or parts.path.strip("/") == "":
        raise PhotoFailed("bad_url", f"{image_url!r} is not an image URL on {_UNSPLASH_DOMAIN}")
    scheme, netloc, path = parts.scheme, parts.netloc, parts.path
    if base_url:
        base = urlsplit(base_url)
        scheme, netloc, path = base.scheme, base.netloc, base.path.rstrip("/") + parts.path
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(w=str(width), fit="max", fm="jpg", q=str(JPEG_QUALITY))
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def check_base_url(base_url: str) -> str:
    """``base_url`` if it is an http(s) URL with a host; raises ValueError otherwise."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"{base_url!r} is not an http(s) URL base such as http://mirror.example/unsplash")
    return base_url
