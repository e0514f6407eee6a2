"""The ``newsspider`` command: a thin shell over the runner, the demo site and the dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from newsspider import __version__

DATA_DIR_OPTION = click.option(
    "--data-dir", type=click.Path(file_okay=True, path_type=Path), default=Path("data"),
    show_default=True, help="Directory for the dataset (articles.jsonl) and the crawl's memory.",
)
SETTING_OPTION = click.option(
    "-s", "--set", "settings", multiple=True, metavar="NAME=VALUE",
    help="Override a Scrapy or newsspider setting (repeatable), e.g. -s DOWNLOAD_DELAY=2.",
)


def _crawl(start_urls: list[str] | None, data_dir: Path, overrides: dict[str, Any]) -> Any:
    """Run one crawl, turning the library's errors into one-line messages."""
    from newsspider.runner import run_crawl
    from newsspider.spiders.bannedbook import StartUrlError
    from newsspider.storage import DataDirError

    try:
        return run_crawl(start_urls, data_dir, overrides)
    except (StartUrlError, DataDirError) as exc:
        raise click.ClickException(str(exc)) from exc


def _overrides(pairs: tuple[str, ...]) -> dict[str, str]:
    from newsspider.runner import SettingError, parse_overrides, unknown_settings

    try:
        overrides = parse_overrides(pairs)
    except SettingError as exc:
        raise click.UsageError(str(exc)) from exc
    for name in unknown_settings(list(overrides)):
        click.echo(f"warning: -s {name}: neither Scrapy nor newsspider has this setting", err=True)
    return overrides


def _report(result: Any) -> None:
    click.echo(f"Crawl {result.finish_reason}: {result.summary.line()}")
    click.echo(f"Dataset: {result.stats.get('newsspider/dataset', result.data_dir)}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="newsspider")
def main() -> None:
    """Archive bannedbook.org (禁闻网) into a deduplicated JSON Lines dataset."""


@main.command()
@click.option("--start-url", "start_urls", multiple=True, metavar="URL",
              help="Where to start (repeatable). Default: the live site's front and category pages.")
@DATA_DIR_OPTION
@SETTING_OPTION
def crawl(start_urls: tuple[str, ...], data_dir: Path, settings: tuple[str, ...]) -> None:
    """Crawl the site (or a copy at the start URLs' host) into DATA_DIR/articles.jsonl."""
    result = _crawl(list(start_urls) or None, data_dir, _overrides(settings))
    _report(result)
    if not result.ok:
        raise click.ClickException(f"the crawl did not finish ({result.finish_reason})")


@main.command()
@click.option("--data-dir", type=click.Path(path_type=Path), default=Path("data/demo"),
              show_default=True, help="Directory for the demo's dataset.")
@click.option("--port", type=int, default=0, show_default=True,
              help="Port for the demo site on 127.0.0.1 (0 picks a free one).")
@SETTING_OPTION
def demo(data_dir: Path, port: int, settings: tuple[str, ...]) -> None:
    """Serve the bundled sample site on 127.0.0.1 and crawl it into DATA_DIR."""
    from newsspider.dataset import iter_records
    from newsspider.demo.server import serve_in_thread

    server = serve_in_thread(port=port)
    start_url = f"{server.root}/bnews/"
    click.echo(f"Demo site (the two real seed pages plus generated ones) at {start_url}")
    overrides = {"DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "False",
                 "CONCURRENT_REQUESTS_PER_DOMAIN": "16", **_overrides(settings)}
    try:
        result = _crawl([start_url], data_dir, overrides)
    finally:
        server.shutdown()
    _report(result)
    records = sorted(iter_records(data_dir, errors="skip"), key=lambda r: r["published_date"])
    click.echo(f"{len(records)} articles in the dataset; a few titles:")
    for record in records[:: max(1, len(records) // 5)][:5]:
        click.echo(f"  {record['published_date']}  {record['title']}")
    if not result.ok:
        raise click.ClickException(f"the crawl did not finish ({result.finish_reason})")
