"""The published sites in an Azure Blob Storage container: objects, manifests and a pointer.

The container holds::

    objects/<sha256>                    one file's bytes, named by their hash; written once
    builds/<build-id>/<audience>.json   a build's manifest: each path of the site -> its object
    current.json                        the pointer: audience -> build id

A publisher uploads the objects the container lacks, then the manifests, and writes the
pointer last, on the condition that nobody else wrote it since it was read (its ETag).
A replica reads the pointer, then the manifests it names, then the objects it lacks. So
the pointer never names a build whose files are not all there, and a switch to a new
build is one write.

The objects are content-addressed because a rebuild changes few files: a registration
re-renders a handful of pages, and the theme's assets are the same in every audience and
every build. Publishing and each replica's download then cost what changed, not the site.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portal.exceptions import ConfigError, PortalError
from portal.secrets import first_line
from portal.settings import Settings

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

__all__ = [
    "POINTER",
    "BlobSites",
    "Manifest",
    "Pointer",
    "PointerConflict",
    "StoreError",
    "hash_file",
    "site_path_problem",
]

POINTER = "current.json"
OBJECTS = "objects/"
BUILDS = "builds/"
FORMAT = 1
_CHUNK = 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")
# A build id names a folder in every replica's cache: nothing but these characters.
BUILD_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,99}")
_INSTALL = "pip install 'quantum-portal[azure-blob]'"


class StoreError(PortalError):
    """The site store could not be read or written; the message names the setting to check."""


class PointerConflict(Exception):
    """Someone else wrote the pointer since it was read (its ETag no longer matches)."""


@dataclass(frozen=True, slots=True)
class Pointer:
    """Which build each audience serves, and the ETag it was read with (None: no pointer yet)."""

    builds: dict[str, str]
    etag: str | None = None
    published_at: str = ""


@dataclass(frozen=True, slots=True)
class Manifest:
    """Every file of one audience's site in one build: site path -> (sha256, size)."""

    build: str
    audience: str
    files: dict[str, tuple[str, int]]

    @property
    def name(self) -> str:
        return manifest_name(self.build, self.audience)

    def to_json(self) -> bytes:
        files = {path: [sha, size] for path, (sha, size) in sorted(self.files.items())}
        body = {"format": FORMAT, "build": self.build, "audience": self.audience, "files": files}
        return json.dumps(body, separators=(",", ":")).encode()


def manifest_name(build: str, audience: str) -> str:
    return f"{BUILDS}{build}/{audience}.json"


def object_name(sha: str) -> str:
    return OBJECTS + sha


def hash_file(path: Path) -> tuple[str, int]:
    """The sha256 (hex) and size of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def site_path_problem(path: str) -> str | None:
    """Why ``path`` cannot be a file of a site folder (it comes from the store), if it cannot."""
    parts = path.split("/")
    if not path or "\\" in path or "\x00" in path or path.startswith("/"):
        return "is not a relative path"
    if any(part in ("", ".", "..") for part in parts):
        return "has an empty, '.' or '..' segment"
    return None


class BlobSites:
    """The site store's container, with every Azure error turned into a message to act on.

    ``settings`` name the container and how to reach it (a connection string, or a blob
    service URL and DefaultAzureCredential), resolved already (``portal.secrets``).
    ``retries``: how often a failed request is tried again (with a growing wait).
    """

    def __init__(self, settings: Settings, *, retries: int = 3, **client_options: Any) -> None:
        try:
            from azure.storage.blob import ContainerClient, ExponentialRetry
        except ImportError:  # pragma: no cover - the optional dependency is missing
            raise ConfigError(
                f"setting PORTAL_SITE_STORE=azure needs azure-storage-blob: {_INSTALL}"
            ) from None
        self.container = settings.site_store_container
        options: dict[str, Any] = {
            # Short waits: a replica asks again at its next poll, a publisher fails clearly.
            "retry_policy": ExponentialRetry(
                initial_backoff=1, increment_base=2, retry_total=retries, random_jitter_range=1
            ),
            "connection_timeout": 10,
            "read_timeout": 60,
            "logging_enable": False,  # would log request bodies and headers
            **client_options,
        }
        self._owned_credential: Any = None
        connection = settings.site_store_connection_string
        if connection:
            self.setting = "PORTAL_SITE_STORE_CONNECTION_STRING"
            try:
                self._client: ContainerClient = ContainerClient.from_connection_string(
                    connection, self.container, **options
                )
            except ValueError:
                # Never the value itself: it holds the account key.
                raise ConfigError(
                    f"setting {self.setting}: not a storage connection string (expected "
                    "DefaultEndpointsProtocol=https;AccountName=<account>;AccountKey=<key>;"
                    "EndpointSuffix=core.windows.net, or BlobEndpoint=<url>;"
                    "SharedAccessSignature=<sas>)"
                ) from None
        elif settings.site_store_url:
            self.setting = "PORTAL_SITE_STORE_URL"
            if not settings.site_store_url.startswith(("https://", "http://")):
                raise ConfigError(
                    f"setting {self.setting}: {settings.site_store_url!r} is not a URL "
                    "(expected https://<account>.blob.core.windows.net)"
                )
            from azure.identity import DefaultAzureCredential

            self._owned_credential = DefaultAzureCredential()
            self._client = ContainerClient(
                settings.site_store_url, self.container, self._owned_credential, **options
            )
        else:
            raise ConfigError(
                "setting PORTAL_SITE_STORE=azure needs PORTAL_SITE_STORE_CONNECTION_STRING "
                "(e.g. kv://<vault>/<secret>) or PORTAL_SITE_STORE_URL "
                "(https://<account>.blob.core.windows.net, with a managed identity)"
            )
        self.where = f"container {self.container!r} at {self._client.primary_endpoint}"

    def close(self) -> None:
        self._client.close()
        if self._owned_credential is not None:
            self._owned_credential.close()

    # -- errors --------------------------------------------------------------------

    @contextlib.contextmanager
    def _calls(self, action: str) -> Iterator[None]:
        """Turn the SDK's errors into a StoreError naming the action, place and setting."""
        from azure.core.exceptions import (
            AzureError,
            ClientAuthenticationError,
            HttpResponseError,
            ServiceRequestError,
            ServiceResponseError,
        )

        try:
            yield
        except HttpResponseError as exc:
            code = str(getattr(exc, "error_code", None) or "")
            if code == "ContainerNotFound":
                raise StoreError(
                    f"{action}: the {self.where} does not exist (setting "
                    f"PORTAL_SITE_STORE_CONTAINER): create it, e.g. `az storage container "
                    f"create --name {self.container}`, or name an existing one"
                ) from None
            if isinstance(exc, ClientAuthenticationError) or exc.status_code == 403:
                raise StoreError(
                    f"{action}: the {self.where} refused the credential of setting "
                    f"{self.setting}: {first_line(exc)}"
                ) from None
            raise StoreError(f"{action}: the {self.where} answered: {first_line(exc)}") from None
        except ClientAuthenticationError as exc:  # the credential itself failed, no answer yet
            raise StoreError(
                f"{action}: no credential for the {self.where} (setting {self.setting}): "
                f"{first_line(exc)}"
            ) from None
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise StoreError(
                f"{action}: cannot reach the {self.where} (setting {self.setting}): "
                f"{first_line(exc)}"
            ) from None
        except AzureError as exc:  # e.g. a download cut short
            raise StoreError(f"{action}: {first_line(exc)} ({self.where})") from None

    # -- reads -----------------------------------------------------------------------

    def check(self) -> None:
        """Fail now, with a clear message, if the container cannot be read."""
        with self._calls("checking the site store"):
            self._client.get_container_properties()

    def read_pointer(self) -> Pointer:
        """The pointer; empty (and without an ETag) when nothing was published yet."""
        pointer = self._pointer(None)
        return pointer if pointer is not None else Pointer({})

    def pointer_if_changed(self, etag: str | None) -> Pointer | None:
        """The pointer, or None while it still has ``etag``: one request, no body, if unchanged."""
        return self._pointer(etag)

    def _pointer(self, etag: str | None) -> Pointer | None:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        options: dict[str, Any] = {}
        if etag is not None:
            options = {"etag": etag, "match_condition": MatchConditions.IfModified}
        with self._calls(f"reading {POINTER}"):
            try:
                download = self._client.get_blob_client(POINTER).download_blob(**options)
                data = download.readall()
            except ResourceModifiedError as exc:
                if exc.status_code == 304:
                    return None
                raise
            except ResourceNotFoundError as exc:
                if getattr(exc, "error_code", None) != "BlobNotFound":
                    raise
                return Pointer({})
        return _parse_pointer(data, download.properties.etag, self.where)

    def read_manifest(self, build: str, audience: str) -> Manifest:
        name = manifest_name(build, audience)
        with self._calls(f"reading {name}"):
            data = self._client.get_blob_client(name).download_blob().readall()
        return _parse_manifest(data, build, audience, f"{name} in the {self.where}")

    def object_names(self) -> set[str]:
        """The hashes of every object already in the container."""
        with self._calls("listing the objects"):
            return {
                name.removeprefix(OBJECTS)
                for name in self._client.list_blob_names(name_starts_with=OBJECTS)
            }

    def manifests(self) -> list[tuple[str, str, datetime]]:
        """Every manifest in the container: (build id, audience, when it was written)."""
        found = []
        with self._calls("listing the builds"):
            for blob in self._client.list_blobs(name_starts_with=BUILDS):
                build, _, file = blob.name.removeprefix(BUILDS).partition("/")
                if file.endswith(".json") and "/" not in file:
                    found.append((build, file.removesuffix(".json"), blob.last_modified))
        return found

    def objects_written(self) -> dict[str, datetime]:
        """Every object's hash and when it was written (for pruning)."""
        with self._calls("listing the objects"):
            return {
                blob.name.removeprefix(OBJECTS): blob.last_modified
                for blob in self._client.list_blobs(name_starts_with=OBJECTS)
            }

    def download_object(self, sha: str, target: Path) -> None:
        """Write object ``sha`` to ``target`` whole or not at all, checking its hash.

        The file's modification time becomes the object's in the store, the same on
        every replica, so its HTTP validators (ETag, Last-Modified) are too.
        """
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".download-")
        try:
            with os.fdopen(fd, "wb") as handle, self._calls(f"downloading {object_name(sha)}"):
                download = self._client.get_blob_client(object_name(sha)).download_blob()
                digest = hashlib.sha256()
                for chunk in download.chunks():
                    digest.update(chunk)
                    handle.write(chunk)
                modified = download.properties.last_modified
            if digest.hexdigest() != sha:
                raise StoreError(
                    f"{object_name(sha)} in the {self.where} does not hold the bytes its name "
                    "promises (sha256 mismatch): publish the build again"
                )
            if modified is not None:
                stamp = modified.timestamp()
                os.utime(tmp, (stamp, stamp))
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    # -- writes ----------------------------------------------------------------------

    def upload_object(self, sha: str, path: Path) -> bool:
        """Upload ``path`` as object ``sha`` unless it is there; whether it was uploaded."""
        from azure.core.exceptions import ResourceExistsError

        with self._calls(f"uploading {path}"), open(path, "rb") as handle:
            try:
                self._client.upload_blob(object_name(sha), handle, overwrite=False)
            except ResourceExistsError:  # another publisher got there first: same bytes
                return False
        return True

    def write_manifest(self, manifest: Manifest) -> None:
        with self._calls(f"writing {manifest.name}"):
            self._client.upload_blob(manifest.name, manifest.to_json(), overwrite=True)

    def write_pointer(self, builds: dict[str, str], *, etag: str | None, when: str) -> Pointer:
        """Write the pointer if it is still as read (``etag``; None: if there is none).

        Raises PointerConflict when another publisher wrote it in between.
        """
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError

        body = json.dumps(
            {"format": FORMAT, "builds": dict(sorted(builds.items())), "published_at": when},
            indent=1,
        ).encode()
        options: dict[str, Any] = {"overwrite": False}
        if etag is not None:
            options = {
                "overwrite": True,
                "etag": etag,
                "match_condition": MatchConditions.IfNotModified,
            }
        with self._calls(f"writing {POINTER}"):
            try:
                answer = self._client.get_blob_client(POINTER).upload_blob(body, **options)
            except (ResourceModifiedError, ResourceExistsError):
                raise PointerConflict from None
        return Pointer(dict(builds), answer.get("etag"), when)

    def delete(self, names: list[str]) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        for name in names:
            with self._calls(f"deleting {name}"), contextlib.suppress(ResourceNotFoundError):
                self._client.delete_blob(name)


def _parse_pointer(data: bytes, etag: str | None, where: str) -> Pointer:
    problem = f"{POINTER} in the {where} is not a pointer written by portal build --publish"
    try:
        body = json.loads(data)
    except ValueError:
        raise StoreError(f"{problem} (not JSON)") from None
    builds = body.get("builds") if isinstance(body, dict) else None
    if not isinstance(builds, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and BUILD_ID.fullmatch(v)
        for k, v in builds.items()
    ):
        raise StoreError(f"{problem} (expected {{'builds': {{audience: build id}}}})")
    return Pointer(dict(builds), etag, str(body.get("published_at", "")))


def _parse_manifest(data: bytes, build: str, audience: str, where: str) -> Manifest:
    try:
        body = json.loads(data)
    except ValueError:
        raise StoreError(f"{where} is not JSON") from None
    raw = body.get("files") if isinstance(body, dict) else None
    if not isinstance(raw, dict):
        raise StoreError(f"{where} has no 'files' mapping")
    files: dict[str, tuple[str, int]] = {}
    for path, entry in raw.items():
        problem = site_path_problem(path) if isinstance(path, str) else "is not a string"
        if problem is None and not (
            isinstance(entry, list)
            and len(entry) == 2
            and isinstance(entry[0], str)
            and _SHA256.fullmatch(entry[0])
            and isinstance(entry[1], int)
        ):
            problem = "has no [sha256, size] entry"
        if problem is not None:
            raise StoreError(f"{where}: file {path!r} {problem}")
        files[path] = (entry[0], entry[1])
    return Manifest(build, audience, files)
