"""Where catalog content may come from: paths inside the repository, or allow-listed URLs."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin, urlsplit

import httpx

from portal.problems import Severity
from portal.yamlio import Limits, YamlError, decode, read_text

__all__ = ["Refused", "SourceResolver", "Url"]

_GLOB_CHARS = frozenset("*?[")


class Refused(Exception):
    """A reference that may not be followed; the message says why and what would be allowed.

    ``severity`` is "warning" when the content is fine but the portal is set not to
    follow it (a URL off the allow-list), "error" when the reference itself is wrong.
    """

    def __init__(self, message: str, severity: Severity = "error") -> None:
        super().__init__(message)
        self.severity: Severity = severity


@dataclass(frozen=True, slots=True)
class Url:
    url: str


class SourceResolver:
    """Resolves references written in a file to files under the root, or to allowed URLs."""

    def __init__(
        self, root: Path, limits: Limits, allowed_urls: list[str], timeout: float = 10.0
    ) -> None:
        self.root = root.resolve()
        self._root_prefix = str(self.root).rstrip("/") + "/"
        self.limits = limits
        self.allowed_urls = allowed_urls
        self.timeout = timeout
        self._fetched: dict[str, str] = {}

    @property
    def display_root(self) -> str:
        return self._root_prefix

    def display(self, path: Path) -> str:
        text = str(path)
        if text.startswith(self._root_prefix):
            return text[len(self._root_prefix) :]
        return text

    def resolve(self, base: Path | Url, target: str) -> list[Path | Url]:
        """Every source ``target`` names, relative to the file (or URL) ``base``.

        Globs expand to the files they match, sorted. Raises Refused for absolute
        paths, paths that leave the root (through ``..`` or a symlink) and URLs
        that are not allow-listed.
        """
        if not target.strip():
            raise Refused("is empty")
        scheme = urlsplit(target).scheme
        if scheme and len(scheme) > 1:  # one letter is a Windows drive, not a scheme
            return [self._url(target)]
        if isinstance(base, Url):
            return [self._url(urljoin(base.url, target))]
        if target.startswith(("/", "\\")) or PurePosixPath(target).is_absolute() or scheme:
            raise Refused(
                "is an absolute path; write a path relative to this file, inside the repository"
            )
        directory = base.parent
        if _GLOB_CHARS.intersection(target):
            matches = sorted(Path(p) for p in glob.glob(str(directory / target), recursive=True))
            return [self._inside(p, target) for p in matches if Path(p).is_file()]
        return [self._inside(directory / target, target)]

    def _inside(self, path: Path, target: str) -> Path:
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root):
            how = "through a symlink " if ".." not in PurePosixPath(target).parts else ""
            raise Refused(
                f"leaves the repository {how}(resolves outside {self.root}); "
                "catalog paths must stay inside it"
            )
        return resolved

    def _url(self, url: str) -> Url:
        if not any(url.startswith(prefix) for prefix in self.allowed_urls):
            raise Refused(
                "is a URL outside the allow-list, so it is not fetched "
                "(allow its prefix in PORTAL_CATALOG_ALLOWED_URLS)",
                "warning",
            )
        return Url(url)

    def read(self, source: Path | Url) -> str:
        """The text of a file or allowed URL, within the size limit."""
        if isinstance(source, Path):
            return read_text(source, self.limits)
        if source.url not in self._fetched:
            self._fetched[source.url] = self._fetch(source.url)
        return self._fetched[source.url]

    def _fetch(self, url: str) -> str:
        # No redirects are followed: a redirect could lead off the allow-list.
        try:
            with (
                httpx.Client(timeout=self.timeout, follow_redirects=False) as client,
                client.stream("GET", url) as response,
            ):
                if response.status_code != 200:
                    raise YamlError(f"fetching {url} answered HTTP {response.status_code}")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self.limits.max_bytes:
                        raise YamlError(
                            f"{url} is over the limit of {self.limits.max_bytes:,} bytes "
                            "(PORTAL_MAX_FILE_BYTES)"
                        )
        except httpx.HTTPError as exc:
            raise YamlError(f"fetching {url} failed: {exc}") from None
        return decode(bytes(body))
