"""Why a photo could not be fetched: one short reason (a key of the summary's counts) and a
detail a human can act on.

Reasons:
  bad_url       the manifest's image URL is not an Unsplash image URL (a few dataset rows are broken
                this way, e.g. ``https://images.unsplash.com.jpg/``); nothing is requested
  http_<code>   the server answered that status (after retries for 408, 429 and 5xx), e.g. http_404
  timeout       no complete answer within the timeout (after retries)
  connection    the connection failed or broke (after retries)
  incomplete    the body ended before its Content-Length (after retries)
  too_large     the body or the image is larger than any photo at the requested size can be
  not_an_image  no image format recognizes the bytes, e.g. an HTML error page sent with status 200
  corrupt       an image format is recognized but the pixels do not decode
  placeholder   a flat, single-color image: what CDNs and mirrors serve in place of a missing photo
  wrong_size    the dimensions do not fit the request and the manifest's width/height
"""


class PhotoFailed(Exception):
    """A photo that is not fetched. ``retryable`` failures are tried again after a delay
    (``retry_after``, the server's Retry-After in seconds, when it gave one)."""

    def __init__(self, reason: str, detail: str, retryable: bool = False, retry_after: float = None):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.retryable = retryable
        self.retry_after = retry_after
