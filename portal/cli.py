"""The ``portal`` command line; user errors end here as a message and exit code 1."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from portal import __version__
from portal.exceptions import PortalError
from portal.problems import Report
from portal.settings import Settings

__all__ = ["main"]


def _settings(root: Path | None, **overrides: Any) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if root is not None:
        values["root"] = root
    try:
        return Settings(**values)
    except ValidationError as exc:
        lines = [
            f"setting PORTAL_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        ]
        raise click.UsageError("\n".join(lines)) from None


root_option = click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Repository root (default: PORTAL_ROOT or the current directory).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="portal")
def cli() -> None:
    """Quantum Portal: the developer portal of the Quantum platform."""


@cli.command()
@root_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--catalog",
    "catalog_paths",
    multiple=True,
    metavar="GLOB",
    help="Catalog files to read, relative to the root (repeatable; "
    "default: PORTAL_CATALOG_PATHS or catalog/**/*.yaml).",
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def validate(root: Path | None, fmt: str, catalog_paths: tuple[str, ...], strict: bool) -> None:
    """Validate the catalog, reporting every problem as path:line:column.

    Exit status: 0 when clean, 1 on any error (or warning with --strict), 2 on usage errors.
    """
    from portal.model import load_model

    settings = _settings(root, catalog_paths=list(catalog_paths) or None)
    # With --catalog the run checks those catalog files alone, not the sites (nor does
    # it rewrite the caches, which would keep those files' parses alone).
    model = load_model(settings, with_docs=not catalog_paths, cache=not catalog_paths)
    report = model.report
    failed = report.has_errors or (strict and bool(report.warnings))
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "ok": not failed,
                    "files": model.files,
                    "entities": len(model.catalog),
                    "kinds": model.catalog.kinds(),
                    "pages": len(model.docs),
                    "problems": [p.to_dict() for p in report.sorted()],
                },
                indent=2,
            )
        )
    else:
        for problem in report.sorted():
            click.echo(problem.format())
        click.echo(_summary(report, model.files, len(model.catalog), len(model.docs)), err=True)
    sys.exit(1 if failed else 0)


def _summary(report: Report, files: int, entities: int, pages: int) -> str:
    errors, warnings = len(report.errors), len(report.warnings)
    docs = f", {pages} pages" if pages else ""
    return (
        f"{entities} entities in {files} files{docs}: "
        f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    )


@cli.command()
@root_option
@click.option(
    "--audience",
    "audiences",
    multiple=True,
    metavar="NAME",
    help="Build only this audience's site (repeatable; default: every audience).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the sites go, one folder per audience (default: <root>/site).",
)
@click.option(
    "--publish",
    is_flag=True,
    help="Then publish the sites to the site store (PORTAL_SITE_STORE=azure): every replica "
    "switches to the new build at once.",
)
def build(root: Path | None, audiences: tuple[str, ...], out: Path | None, publish: bool) -> None:
    """Build one MkDocs-material site per audience from docs/, the catalog and API definitions.

    Every problem is reported first; with any error nothing is built and the
    previous sites stay as they were. With --publish, nothing is published either.
    """
    from portal.exceptions import ValidationFailed
    from portal.secrets import resolved_settings
    from portal.sites.build import build_sites
    from portal.sites.progress import BuildProgress

    # kv://, env:// and file:// settings (the database's URL, the site store's connection
    # string) resolved as `portal serve` resolves them.
    settings = resolved_settings(_settings(root))
    store = _publish_store(settings) if publish else None
    try:
        model = _build_model(settings)
        with BuildProgress() as progress:
            result = build_sites(
                settings, audiences=audiences, out=out, progress=progress.update, model=model
            )
    except ValidationFailed as exc:
        for problem in exc.problems:
            click.echo(problem.format())
        errors = sum(1 for p in exc.problems if p.severity == "error")
        click.echo(
            f"build stopped: {errors} error{'s' * (errors != 1)}; the previous sites are unchanged",
            err=True,
        )
        sys.exit(1)
    for problem in result.problems:
        click.echo(problem.format())
    for site in sorted(result.sites, key=lambda s: s.audience):
        mode = "unchanged" if site.unchanged else "incremental" if site.incremental else "full"
        click.echo(
            f"{site.audience:<16} {site.pages:>6} pages  {site.seconds:6.1f} s  ({mode})  "
            f"{site.path}",
            err=True,
        )
    click.echo(f"built {len(result.sites)} sites in {result.seconds:.1f} s", err=True)
    if store is not None:
        _publish(settings, store, list(audiences) or _site_audiences(result), out)


def _publish_store(settings: Settings) -> Any:
    """The site store to publish to, checked before a long build: bad settings fail at once."""
    if settings.site_store != "azure":
        raise click.UsageError(
            "--publish: PORTAL_SITE_STORE is local, where `portal build` alone is enough; set "
            "PORTAL_SITE_STORE=azure and PORTAL_SITE_STORE_CONNECTION_STRING (or "
            "PORTAL_SITE_STORE_URL) to publish to Azure Blob Storage"
        )
    from portal.sites.blob import BlobSites

    store = BlobSites(settings)
    try:
        store.check()
    except BaseException:
        store.close()
        raise
    return store


def _site_audiences(result: Any) -> list[str]:
    return sorted(site.audience for site in result.sites)


def _publish(settings: Settings, store: Any, audiences: list[str], out: Path | None) -> None:
    from portal.sites.publish import publish_sites

    try:
        published = publish_sites(settings, audiences, out=out, store=store)
    finally:
        store.close()
    for name in published.published:
        click.echo(f"{name:<16} published as build {published.build}", err=True)
    for name in published.unchanged:
        click.echo(f"{name:<16} unchanged: the published build has the same files", err=True)
    for name in published.superseded:
        click.echo(f"{name:<16} not switched: another publisher's newer build serves", err=True)
    click.echo(
        f"published in {published.seconds:.1f} s: {published.uploaded} files uploaded "
        f"({published.uploaded_bytes / 1e6:.1f} MB), {published.reused} already in the store",
        err=True,
    )


def _build_model(settings: Settings) -> Any:
    """The model a build reads: the repository plus what the portal has registered."""
    from portal.model import load_model

    if not settings.database_url and not (settings.data_path / "portal.db").exists():
        return load_model(settings)  # nothing registered; importing the web app costs ~1 s
    from portal.web.runtime import stored_sources

    return load_model(settings, registered=stored_sources(settings))


@cli.command()
@root_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="PORTAL_HOST",
    help="Address to listen on (or PORTAL_HOST, as in the container image).",
)
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), envvar="PORTAL_PORT"
)
@click.option("--reload", is_flag=True, help="Restart when the portal's code changes.")
@click.option("--no-build", is_flag=True, help="Serve the sites as they are; build nothing first.")
def serve(root: Path | None, host: str, port: int, reload: bool, no_build: bool) -> None:
    """Build what is stale, then serve the portal (docs sites, catalog, registration, API)."""
    import os

    import uvicorn

    from portal.logs import log_config
    from portal.network import is_loopback
    from portal.web.runtime import settings_env

    settings = _settings(root)
    if not is_loopback(host) and not settings.oidc_issuer:
        raise click.UsageError(
            f"--host {host}: the portal runs with a development identity until single sign-on "
            "is configured (PORTAL_OIDC_ISSUER), and that identity may only listen on "
            "loopback (127.0.0.1 or ::1)"
        )
    if settings.site_store != "local":
        # Replicas serve what `portal build --publish` published; they build nothing.
        click.echo("sites: served from the site store (PORTAL_SITE_STORE)", err=True)
    elif not no_build:
        _serve_build(settings)
    display = f"[{host}]" if ":" in host else host
    click.echo(f"Quantum Portal: http://{display}:{port}/  (Ctrl+C stops it)", err=True)
    if reload:
        # uvicorn re-imports the app in a child process: settings travel as PORTAL_*
        # variables (references unresolved: the child resolves them itself).
        os.environ.update(settings_env(settings))
        target: Any = "portal.web.app:app_from_environment"
    else:
        from portal.secrets import resolved_settings
        from portal.web.app import create_app

        target = create_app(resolved_settings(settings))
    uvicorn.run(
        target,
        factory=reload,
        host=host,
        port=port,
        reload=reload,
        reload_dirs=[str(Path(__file__).parent)] if reload else None,
        log_level="info",
        # Text on a terminal, JSON lines otherwise (PORTAL_LOG_FORMAT); the portal logs
        # each request itself (portal.web.observe), with its id, user and route.
        log_config=log_config(settings.log_format),
        access_log=False,
        # Forwarded headers count only from the proxies the settings name.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
    )


def _serve_build(settings: Settings) -> None:
    from portal.exceptions import ValidationFailed
    from portal.sites.build import build_sites
    from portal.sites.progress import BuildProgress

    if not (settings.root / "mkdocs.yml").is_file():
        click.echo("no mkdocs.yml: serving the catalog without docs sites", err=True)
        return
    try:
        model = _build_model(settings)
        with BuildProgress() as progress:
            result = build_sites(settings, progress=progress.update, model=model)
    except ValidationFailed as exc:
        for problem in exc.problems:
            click.echo(problem.format(), err=True)
        click.echo("the sites were not rebuilt (errors above); serving the previous ones", err=True)
        return
    built = [s.audience for s in result.sites if not s.unchanged]
    click.echo(
        f"sites: {len(built)} rebuilt, {len(result.sites) - len(built)} unchanged "
        f"({result.seconds:.1f} s)",
        err=True,
    )


@cli.command()
@root_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
def openapi(root: Path | None, out: Path | None) -> None:
    """Print (or write to --out) the OpenAPI document of the portal's REST API."""
    from portal.web.api import openapi_document

    text = openapi_document()
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)


@cli.command()
@root_option
@click.argument("query")
@click.option(
    "--audience",
    "audiences",
    multiple=True,
    metavar="NAME",
    help="Search only this audience's site (repeatable; default: every audience).",
)
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def search(
    root: Path | None, query: str, audiences: tuple[str, ...], limit: int, as_json: bool
) -> None:
    """Search the docs, catalog and API operations (the index portal serve keeps, brought up
    to date first)."""
    import html
    import re

    from portal.search import SearchIndex, SearchQuery, documents
    from portal.search.documents import HEADING_SEPARATOR
    from portal.sites import urls
    from portal.sites.config import best_audience

    settings = _settings(root)
    model = _build_model(settings)
    known = list(model.site.audiences) if model.site else []
    unknown = [a for a in audiences if a not in known]
    if unknown:
        raise click.UsageError(
            f"--audience {unknown[0]}: no such audience (known: {', '.join(known) or 'none'})"
        )
    index = SearchIndex.open(settings)
    stats = index.sync(documents(model))
    if stats.updated or stats.removed:
        click.echo(f"indexed {stats.updated}, removed {stats.removed} documents", err=True)
    searched = frozenset(audiences or known)
    results = index.search(SearchQuery(query, searched, limit=limit))
    base = settings.public_url
    out = []
    for hit in results.hits:
        holders = [a for a in index.audiences_of(hit.id) or () if a in searched]
        audience = best_audience(model.site.audiences, holders) if model.site else None
        url = urls.portal_url(base, audience, hit.path, hit.anchor) if audience else ""
        if hit.type == "entity" and hit.ref:
            kind, _, rest = hit.ref.partition(":")
            url = f"{base.rstrip('/')}/catalog/{kind}/{rest}"
        out.append((hit, url))
    if as_json:
        payload = {
            "query": query,
            "total": results.total,
            "facets": results.facets,
            "hits": [
                {
                    "id": hit.id,
                    "type": hit.type,
                    "kind": hit.kind,
                    "title": hit.title,
                    "heading_path": list(hit.heading_path),
                    "snippet": hit.snippet,
                    "url": url,
                    "ref": hit.ref or None,
                    "score": hit.score,
                }
                for hit, url in out
            ],
        }
        click.echo(json.dumps(payload, indent=2))
        return
    for hit, url in out:
        snippet = html.unescape(re.sub(r"</?mark>", "", hit.snippet))
        click.echo(f"{HEADING_SEPARATOR.join(hit.heading_path) or hit.title}  [{hit.kind}]")
        click.echo(f"  {url}")
        if snippet:
            click.echo(f"  {snippet[:160]}")
    click.echo(f"{results.total} result{'s' * (results.total != 1)}", err=True)


def _today(value: Any) -> Any:
    return value.date() if value is not None else None


today_option = click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Evaluate as on this date, YYYY-MM-DD (exemptions' expiry, docs' age; default: today).",
)
scorecard_option = click.option(
    "--scorecard",
    "names",
    multiple=True,
    metavar="NAME",
    help="Only this scorecard (repeatable; default: every scorecard).",
)


@cli.group(invoke_without_command=True)
@root_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv", "markdown"]),
    default="table",
    show_default=True,
)
@click.option(
    "--entity",
    "entities",
    multiple=True,
    metavar="REF",
    help="Only this entity, with every rule's outcome (repeatable; kind defaults to component).",
)
@click.option(
    "--fail-under",
    metavar="LEVEL",
    default=None,
    help="Exit 1 when a selected entity is below this level (e.g. silver).",
)
@scorecard_option
@today_option
@click.pass_context
def scorecard(
    ctx: click.Context,
    root: Path | None,
    fmt: str,
    entities: tuple[str, ...],
    fail_under: str | None,
    names: tuple[str, ...],
    today: Any,
) -> None:
    """Evaluate the scorecards: each entity's level, score and failing rules with reasons.

    Exit status: 0, or 1 when an entity is below --fail-under or the scorecards have errors.
    """
    if ctx.invoked_subcommand is not None:
        return
    from datetime import date

    from portal.scorecards.cli import report_command

    settings = _settings(root)
    status = report_command(
        _build_model(settings),
        fmt=fmt,
        entities=entities,
        names=names,
        fail_under=fail_under,
        today=_today(today) or date.today(),
    )
    sys.exit(status)


@scorecard.command("diff")
@root_option
@click.option("--base", required=True, metavar="GIT-REF", help="The commit to compare with.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "text", "json"]),
    default="markdown",
    show_default=True,
)
@click.option("--fail-on-regression", is_flag=True, help="Exit 1 when an entity drops a level.")
@scorecard_option
@today_option
def scorecard_diff(
    root: Path | None,
    base: str,
    fmt: str,
    fail_on_regression: bool,
    names: tuple[str, ...],
    today: Any,
) -> None:
    """What the working tree changes in the scorecards against --base, per entity and rule.

    Markdown by default, ready to post on a pull request.
    """
    from datetime import date

    from portal.scorecards.cli import diff_command

    status = diff_command(
        _settings(root),
        base=base,
        fmt=fmt,
        names=names,
        today=_today(today) or date.today(),
        fail_on_regression=fail_on_regression,
    )
    sys.exit(status)


@scorecard.command("test")
@root_option
@scorecard_option
@today_option
def scorecard_test(root: Path | None, names: tuple[str, ...], today: Any) -> None:
    """Run every rule's fixtures: entities each rule must pass, and must fail.

    Exit status: 0 when every fixture gives the promised outcome, else 1.
    """
    from datetime import date

    from portal.model import load_model
    from portal.scorecards.cli import test_command

    model = load_model(_settings(root))
    sys.exit(test_command(model, names=names, today=_today(today) or date.today()))


@cli.group()
def assets() -> None:
    """Browser scripts the sites serve themselves (nothing loads from outside hosts)."""


@assets.command("fetch")
@root_option
def assets_fetch(root: Path | None) -> None:
    """Fetch Mermaid with npm into the cache, for diagrams in the sites."""
    from portal.sites.assets import fetch_assets

    settings = _settings(root)
    for path in fetch_assets(settings.root / ".cache" / "portal"):
        click.echo(f"fetched {path}")


@cli.group()
def catalog() -> None:
    """Work with the service catalog."""


@catalog.command()
@root_option
def schema(root: Path | None) -> None:
    """Print a JSON Schema of the descriptor format, for editors (yaml-language-server)."""
    from portal.catalog.schema import catalog_schema
    from portal.plugins import get_plugin_manager

    settings = _settings(root)
    click.echo(json.dumps(catalog_schema(get_plugin_manager(settings.root)), indent=2))


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except PortalError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
