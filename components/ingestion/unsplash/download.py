"""Fetching one photo's bytes: the URL asked for, HTTP with pacing, timeouts and retries, and why
a photo could not be fetched.

The URL (``request_url``): the manifest's ``photo_image_url`` with resizing parameters. Unsplash's
image service (imgix) resizes on request: ``w=`` the width, ``fit=max`` keeps the aspect ratio and
never enlarges, ``fm=jpg`` and ``q=`` the encoding. Parameters already in the manifest's URL are
kept unless these replace them. ``base_url`` points the requests at a mirror or a local copy: it
replaces the scheme and host, and its path is put in front of the photo's path
(``http://127.0.0.1:8000/unsplash`` turns ``https://images.unsplash.com/photo-1-a?ixid=x`` into
``http://127.0.0.1:8000/unsplash/photo-1-a?ixid=x&w=...``). A server that ignores ``w=`` still
works: ``content`` scales what it sends. Some dataset rows carry broken URLs whose host swallowed
part of the file name (``https://images.unsplash.com.jpg/``, ``https://images.unsplash.company%20by...``;
unsplash/datasets issues #46 and #61). Such a URL names no photo on any mirror either, so only
http(s) URLs on an ``unsplash.com`` host with a path are requested; the rest fail as ``bad_url``
without a request.

HTTP for many photos from few hosts (``Downloader``):
- Pacing (``HostGate``): at most ``rate`` requests a second to each host, shared by every worker
  thread. A 429 or 503 pauses the whole host (every worker, not only the one that got it) for the
  server's ``Retry-After`` (seconds or an HTTP date), or for the backoff delay when it gave none.
- Timeouts: ``timeout`` bounds connecting, each wait for data, and the whole download (checked
  as the body arrives, so a server that trickles bytes forever is cut off too).
- Retries (``RetryPolicy``): 408, 429, 5xx, timeouts, broken connections and bodies shorter than
  their Content-Length are tried again, up to ``retries`` times, after ``backoff`` seconds doubled
  each time (half of it random, so workers that failed together do not retry together), at most
  ``max_delay``. Any other status fails at once (``http_404``: a removed photo).
- Bodies are checked against Content-Length here: requests with urllib3 1.26 returns a body cut short
  by a dropped connection without an error.
One ``requests.Session`` per worker thread (a Session is not meant to be shared between threads)
keeps connections alive between a worker's photos.

Why a photo could not be fetched (``PhotoFailed``): one short reason (a key of the summary's
counts) and a detail a human can act on:
  bad_url       the manifest's image URL is not an Unsplash image URL; nothing is requested
  http_<code>   the server answered that status (after retries for 408, 429 and 5xx), e.g. http_404
  timeout       no complete answer within the timeout (after retries)
  connection    the connection failed or broke (after retries)
  incomplete    the body ended before its Content-Length (after retries)
  too_large     the body or the image is larger than any photo at the requested size can be
  not_an_image  no image format recognizes the bytes, e.g. an HTML error page sent with status 200
  corrupt       an image format is recognized but the pixels do not decode
  placeholder   a flat, single-color image: what CDNs and mirrors serve in place of a missing photo
  wrong_size    the dimensions do not fit the request and the manifest's width/height
(the last four are found by ``content``).
"""
import dataclasses
import email.utils
import random
import threading
import time
from typing import Optional, Tuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

USER_AGENT = "colornet-fetch-unsplash/0.1"
MAX_BYTES = 50 * 1024 * 1024  # far above any photo at a requested width; a guard against endless bodies
# Small reads: a read returns only once it is full (http.client reads through a buffered file), and the deadline
# of the whole download is checked between reads: a server that trickles bytes overshoots it by one read at most.
_CHUNK_BYTES = 1024
JPEG_QUALITY = 85
_UNSPLASH_DOMAIN = "unsplash.com"


class PhotoFailed(Exception):
    """A photo that is not fetched. ``retryable`` failures are tried again after a delay
    (``retry_after``, the server's Retry-After in seconds, when it gave one)."""

    def __init__(self, reason: str, detail: str, retryable: bool = False, retry_after: float = None):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.retryable = retryable
        self.retry_after = retry_after


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


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    retries: int = 4            # tries after the first
    backoff: float = 1.0        # seconds before the first retry; doubled for each further one
    max_delay: float = 120.0    # cap on a backoff delay and on a server's Retry-After
    timeout: float = 30.0       # seconds: connect, each read, and the whole download

    def delay(self, retry: int, retry_after: Optional[float]) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first)."""
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        ceiling = min(self.backoff * 2 ** retry, self.max_delay)
        return ceiling / 2 + random.uniform(0, ceiling / 2)


class HostGate:
    """Spaces requests to each host at least ``1 / rate`` seconds apart, across threads."""

    def __init__(self, rate: float):
        self._interval = 1.0 / rate
        self._next_slot = {}  # host -> time.monotonic() of its next free slot
        self._lock = threading.Lock()

    def wait(self, host: str) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot.get(host, now))
            self._next_slot[host] = slot + self._interval
        time.sleep(slot - now)

    def pause(self, host: str, seconds: float) -> None:
        """No request to ``host`` for ``seconds`` from now."""
        with self._lock:
            resume = time.monotonic() + seconds
            self._next_slot[host] = max(self._next_slot.get(host, resume), resume)


class Downloader:
    def __init__(self, policy: RetryPolicy, rate: float):
        self.policy = policy
        self.gate = HostGate(rate)
        self.requests = 0  # HTTP requests made, retries included
        self._count_lock = threading.Lock()
        self._local = threading.local()

    def get(self, url: str) -> Tuple[bytes, str]:
        """(body, Content-Type) of a 200 answer, retrying as the policy says; raises PhotoFailed."""
        host = urlsplit(url).netloc
        retry = 0
        while True:
            self.gate.wait(host)
            try:
                return self._get_once(url)
            except PhotoFailed as failure:
                if not failure.retryable or retry == self.policy.retries:
                    if retry:
                        failure.detail += f" (after {retry + 1} tries)"
                    raise
                delay = self.policy.delay(retry, failure.retry_after)
                if failure.reason in ("http_429", "http_503"):
                    self.gate.pause(host, delay)  # the host asked everyone to slow down
                else:
                    time.sleep(delay)
                retry += 1

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
            self._local.session.headers["User-Agent"] = USER_AGENT
        return self._local.session

    def _get_once(self, url: str) -> Tuple[bytes, str]:
        timeout = self.policy.timeout
        deadline = time.monotonic() + timeout
        with self._count_lock:
            self.requests += 1
        try:
            with self._session().get(url, stream=True, timeout=(timeout, timeout)) as response:
                if response.status_code != 200:
                    status = response.status_code
                    raise PhotoFailed(f"http_{status}", f"{status} {response.reason} from {url}",
                                      retryable=status in (408, 429) or status >= 500,
                                      retry_after=retry_after_seconds(response.headers.get("Retry-After")))
                body = _read_body(response, deadline, url)
                return body, response.headers.get("Content-Type", "")
        except requests.Timeout as error:
            raise PhotoFailed("timeout", f"no answer within {timeout:g} s: {url}", retryable=True) from error
        except requests.RequestException as error:  # refused, reset, dropped mid-body
            raise PhotoFailed("connection", f"{type(error).__name__}: {error}", retryable=True) from error


def _read_body(response: requests.Response, deadline: float, url: str) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_content(_CHUNK_BYTES):
        size += len(chunk)
        if size > MAX_BYTES:
            raise PhotoFailed("too_large", f"more than {MAX_BYTES} bytes: {url}")
        if time.monotonic() > deadline:
            raise PhotoFailed("timeout", f"body not complete within the timeout: {url}", retryable=True)
        chunks.append(chunk)
    received = response.raw.tell()  # bytes off the wire, before any Content-Encoding is undone
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and received < int(declared):
        raise PhotoFailed("incomplete", f"{received} of {declared} bytes, then the connection ended: {url}",
                          retryable=True)
    return b"".join(chunks)


def retry_after_seconds(retry_after: Optional[str]) -> Optional[float]:
    """A Retry-After header (seconds, or an HTTP date) as seconds from now; None if absent or unreadable."""
    if not retry_after:
        return None
    value = retry_after.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
