"""Scripts the sites serve themselves, so no page loads anything from an outside host.

Mermaid renders diagrams in the browser; Material would fetch it from a CDN
unless the page already has it. ``portal assets fetch`` gets it once from the
npm registry, with npm, into the cache; builds then ship it with every site.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from portal.exceptions import PortalError

__all__ = ["MERMAID_VERSION", "LocalScripts", "fetch_assets", "local_scripts"]

MERMAID_VERSION = "11"
_MERMAID = "mermaid/mermaid.min.js"
SITE_PATH = "assets/javascripts/portal/"


@dataclass(slots=True)
class LocalScripts:
    files: dict[str, Path]  # site-relative path -> file in the cache

    @property
    def urls(self) -> list[str]:
        return list(self.files)

    @property
    def has_mermaid(self) -> bool:
        return any(path.endswith("mermaid.min.js") for path in self.files)


def local_scripts(cache_dir: Path) -> LocalScripts:
    vendor = cache_dir / "vendor"
    mermaid = vendor / _MERMAID
    files = {SITE_PATH + "mermaid.min.js": mermaid} if mermaid.is_file() else {}
    return LocalScripts(files)


def fetch_assets(cache_dir: Path) -> list[Path]:
    """Fetch the browser scripts the sites ship (Mermaid) with npm; returns the files."""
    npm = shutil.which("npm")
    if npm is None:
        raise PortalError(
            "npm is needed once to fetch Mermaid for the sites' diagrams; install Node.js, "
            "or build without it (diagrams then show as their source)"
        )
    target = cache_dir / "vendor" / _MERMAID
    with tempfile.TemporaryDirectory() as tmp:
        run = subprocess.run(
            [npm, "pack", f"mermaid@{MERMAID_VERSION}", "--pack-destination", tmp, "--silent"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        tarballs = list(Path(tmp).glob("mermaid-*.tgz"))
        if run.returncode != 0 or not tarballs:
            raise PortalError(
                f"npm pack mermaid failed: {run.stderr.strip() or run.stdout.strip()}"
            )
        with tarfile.open(tarballs[0]) as archive:
            member = archive.getmember("package/dist/mermaid.min.js")
            extracted = archive.extractfile(member)
            if extracted is None:
                raise PortalError("the mermaid package has no dist/mermaid.min.js")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(extracted.read())
    return [target]
