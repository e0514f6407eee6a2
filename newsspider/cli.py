"""The ``newsspider`` command: a thin shell over the runner, the demo site and the dataset.

Each command imports the modules it runs when it runs: ``newsspider --help``
and the ``dataset`` commands do not load Scrapy and Twisted (0.37 s of
imports, ``python -X importtime -c "import newsspider.run.runner"``).  None of
these imports is there to dodge a cycle: imports flow one way, site rules ->
extraction -> crawl components -> runner -> this module.
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from newsspider import __version__
from newsspider.core import stats as keys
from newsspider.core.errors import DEGRADED_EXIT, EXIT_ERROR, NewsspiderError
from newsspider.dataset.reader import display_path
from newsspider.memory import REDIS_PREFIX


def data_dir_parameter(help: str, default: Path = Path("data"),
                       name: str = "data_dir") -> Callable[[Any], Any]:
    """The command's data dir, given either way: as its first argument DATA_DIR or as ``--data-dir DIR``
    (two different ones are an error); left out, *default*.  The command's function gets it as *name*."""

    def decorate(function: Any) -> Any:
        @functools.wraps(function)
        def command(*args: Any, **kwargs: Any) -> Any:
            kwargs[name] = _one_data_dir(kwargs.pop("data_dir_argument"), kwargs.pop("data_dir_option"),
                                         default)
            return function(*args, **kwargs)

        option = click.option("--data-dir", "data_dir_option", type=click.Path(path_type=Path), metavar="DIR",
                              help=f"{help} The same as DATA_DIR (default: {default}).")
        argument = click.argument("data_dir_argument", metavar="[DATA_DIR]", required=False,
                                  type=click.Path(path_type=Path))
        return argument(option(command))

    return decorate


def _one_data_dir(argument: Path | None, option: Path | None, default: Path) -> Path:
    """The data dir of DATA_DIR or --data-dir, whichever was given (both: the same one)."""
    if argument is not None and option is not None and argument != option:
        raise click.UsageError(f"two data dirs: {display_path(argument)} and --data-dir "
                               f"{display_path(option)} (give DATA_DIR or --data-dir, not both)")
    return argument or option or default


DATA_DIR_OPTION = data_dir_parameter("Directory for the dataset (articles.jsonl) and the crawl's memory.")


class Day(click.ParamType):
    """A day: ``YYYY-MM-DD``, or a span back from today (``30d``, ``8w``, ``6m``, ``2y``), checked.  The
    value is the day (``YYYY-MM-DD``), or with *spans* the text as given: a crawl's ``--since 30d``
    stays a span, counted back from the day each scheduled crawl runs."""

    name = "day"

    def __init__(self, spans: bool = False) -> None:
        self.spans = spans

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from newsspider.core.window import WindowError, parse_day

        what = param.opts[0] if param is not None and param.opts else "day"
        try:
            day = parse_day(str(value), what=what)
        except WindowError as exc:
            raise click.UsageError(str(exc), ctx) from exc
        return str(value) if self.spans else day


DAY_HELP = "YYYY-MM-DD, or 30d, 8w, 6m, 2y back from today"
SETTING_OPTION = click.option(
    "-s", "--set", "settings", multiple=True, metavar="NAME=VALUE",
    help="Override a Scrapy or newsspider setting (repeatable), e.g. -s DOWNLOAD_DELAY=2.",
)


START_URL_OPTION = click.option(
    "--start-url", "start_urls", multiple=True, metavar="URL",
    help="Where to start (repeatable). Default: the live site's front and category pages.",
)
RESUME_OPTION = click.option(
    "--resume", is_flag=True,
    help="Continue the frontier of a stopped crawl (kept in DATA_DIR/job) instead of starting over.",
)
REDIS_URL_OPTION = click.option(
    "--redis-url", metavar="redis://HOST:PORT/DB",
    help="Join the distributed crawl kept in this Redis: one frontier, many workers.",
)
WORKER_ID_OPTION = click.option(
    "--worker-id", metavar="ID",
    help="This worker's id in a distributed crawl (default: host name and process id).",
)
REFRESH_OPTION = click.option(
    "--refresh", is_flag=True,
    help="Fetch stored articles again (asking with their ETag/Last-Modified: a 304 costs headers only); a "
         "changed one is stored again with the next version.",
)
NO_SITEMAPS_OPTION = click.option(
    "--no-sitemaps", is_flag=True,
    help="Do not read the site's sitemaps: find articles through the listings only "
         "(NEWSSPIDER_SITEMAPS=False).",
)
NO_FEEDS_OPTION = click.option(
    "--no-feeds", is_flag=True,
    help="Do not read the site's feeds: a recurring crawl finds new articles through the listings "
         "(NEWSSPIDER_FEEDS=False).",
)
NO_WARC_OPTION = click.option(
    "--no-warc", is_flag=True,
    help="Do not keep the fetched pages in DATA_DIR/warc/ (the web archive; NEWSSPIDER_WARC=False).",
)

PROXY_OPTION = click.option(
    "--proxy", "proxies", multiple=True, metavar="URL",
    help="Fetch through this proxy (repeatable: a pool): socks5h://HOST:PORT, http://HOST:PORT, "
         "user:password@ allowed. Default: the environment's (http_proxy, https_proxy, all_proxy).",
)
BROWSER_OPTION = click.option(
    "--browser", is_flag=True,
    help="Pass the site's bot challenges with a headless Chromium, then crawl with its clearance "
         "(NEWSSPIDER_BROWSER=True; needs pip install 'newsspider[browser]').",
)
IMPERSONATE_OPTION = click.option(
    "--impersonate", metavar="BROWSER",
    help="Present this browser's TLS fingerprint (chrome, firefox, safari, or a version such as "
         "chrome136) on every request (NEWSSPIDER_IMPERSONATE).",
)
SINCE_OPTION = click.option(
    "--since", metavar="DAY", type=Day(spans=True),
    help=f"Only articles of this day or later: {DAY_HELP} "
         "(NEWSSPIDER_SINCE). Listings stop at a page of older articles.",
)
UNTIL_OPTION = click.option(
    "--until", metavar="DAY", type=Day(spans=True),
    help="Only articles of this day or earlier (NEWSSPIDER_UNTIL); listings are entered at the first "
         "page that reaches it.",
)
TIMESTAMP_OPTION = click.option(
    "--timestamp", "timestamps", multiple=True, metavar="URL",
    help="Timestamp the run's manifest of its WARC files (DATA_DIR/evidence/) by this RFC 3161 "
         "authority when the crawl ends (repeatable; NEWSSPIDER_TIMESTAMP_URLS).",
)
IMAGES_OPTION = click.option(
    "--images", is_flag=True,
    help="Also fetch each article's images and its page's stylesheets into the web archive, so that "
         "browse shows the page as it was served (NEWSSPIDER_IMAGES=True).",
)


def crawl_options(function: Any) -> Any:
    """The options of one crawl, shared by ``crawl`` and ``schedule``."""
    for option in reversed((START_URL_OPTION, DATA_DIR_OPTION, SINCE_OPTION, UNTIL_OPTION, SETTING_OPTION,
                            RESUME_OPTION, REFRESH_OPTION, NO_SITEMAPS_OPTION, NO_FEEDS_OPTION,
                            NO_WARC_OPTION, IMAGES_OPTION, TIMESTAMP_OPTION, PROXY_OPTION, BROWSER_OPTION,
                            IMPERSONATE_OPTION, REDIS_URL_OPTION, WORKER_ID_OPTION)):
        function = option(function)
    return function


def _crawl(start_urls: list[str] | None, data_dir: Path, overrides: dict[str, Any],
           **flags: bool) -> Any:
    """Run one crawl, turning the library's errors into one-line messages."""
    from newsspider.run.runner import run_crawl

    return run_crawl(start_urls, data_dir, overrides, **flags)


def _outcome(result: Any) -> None:
    """Report a crawl's result; fail with one line unless it finished (or stopped at a bound)."""
    _report(result)
    _outcome_errors(result)


def _outcome_errors(result: Any) -> None:
    if result.fatal:
        raise click.ClickException(f"{result.fatal}; stopped after {result.summary.stored} articles")
    if not result.ok:
        raise click.ClickException(f"the crawl did not finish ({result.finish_reason})")
    if result.checks:
        for line in result.checks:
            click.echo(f"Degraded: {line}", err=True)
        raise click.exceptions.Exit(DEGRADED_EXIT)


def _overrides(pairs: tuple[str, ...]) -> dict[str, str]:
    from newsspider.run.runner import SettingError, parse_overrides, unknown_settings

    try:
        overrides = parse_overrides(pairs)
    except SettingError as exc:
        raise click.UsageError(str(exc)) from exc
    for name in unknown_settings(list(overrides)):
        click.echo(f"warning: -s {name}: neither Scrapy nor newsspider has this setting", err=True)
    return overrides


def _window(since: str | None, until: str | None) -> None:
    """``--since`` / ``--until`` checked together (each day is checked by :class:`Day`)."""
    from newsspider.core.window import Window, WindowError

    try:
        Window.from_settings(since, until)
    except WindowError as exc:
        raise click.UsageError(str(exc)) from exc


#: the crawl options that set a setting (crawl, schedule and estimate have some of them): the option's
#: name -> the setting, and a flag's value (None: the option's value)
CRAWL_SETTINGS: dict[str, tuple[str, str | None]] = {
    "since": ("NEWSSPIDER_SINCE", None), "until": ("NEWSSPIDER_UNTIL", None),
    "no_warc": ("NEWSSPIDER_WARC", "False"), "no_sitemaps": ("NEWSSPIDER_SITEMAPS", "False"),
    "no_feeds": ("NEWSSPIDER_FEEDS", "False"),
    "images": ("NEWSSPIDER_IMAGES", "True"),
    "proxies": ("NEWSSPIDER_PROXIES", None), "browser": ("NEWSSPIDER_BROWSER", "True"),
    "impersonate": ("NEWSSPIDER_IMPERSONATE", None), "redis_url": ("NEWSSPIDER_REDIS_URL", None),
    "worker_id": ("NEWSSPIDER_WORKER_ID", None), "timestamps": ("NEWSSPIDER_TIMESTAMP_URLS", None)}


def crawl_overrides(params: dict[str, Any]) -> dict[str, Any]:
    """The settings a command's crawl options ask for, checked before anything runs (a usage error):
    the ``-s`` ones first, then each option given (:data:`CRAWL_SETTINGS`), which wins."""
    overrides: dict[str, Any] = dict(_overrides(params.get("settings", ())))
    if params.get("images") and params.get("no_warc"):
        raise click.UsageError("--images keeps the images in the web archive: it cannot go with --no-warc")
    _window(params.get("since"), params.get("until"))
    for name, (setting, flag) in CRAWL_SETTINGS.items():
        if value := params.get(name):
            overrides[setting] = flag or (list(value) if isinstance(value, tuple) else value)
    return overrides


def crawl_args(params: dict[str, Any], data_dir: Path) -> list[str]:
    """The arguments of a ``newsspider crawl`` with *params*' crawl options (those of the ``crawl``
    command, in their declared order) and *data_dir*; the settings that hold a secret
    (``SECRET_SETTINGS``: ``--proxy``, ``--redis-url``, their ``-s``) are left out, for the
    environment."""
    from newsspider.run.runner import SECRET_SETTINGS, parse_overrides

    args: list[str] = []
    for param in crawl.params:
        name, value = param.name or "", params.get(param.name or "")
        flag, secret = param.opts[0], CRAWL_SETTINGS.get(name, ("", None))[0] in SECRET_SETTINGS
        if name == "data_dir_option":
            args += ["--data-dir", str(data_dir.resolve())]
        elif not isinstance(param, click.Option) or not value or secret:
            continue  # the data dir's argument, an option not given, a secret
        elif name == "settings":
            args += [arg for setting, given in parse_overrides(value).items()
                     if setting not in SECRET_SETTINGS for arg in (flag, f"{setting}={given}")]
        else:
            args += [flag] if param.is_flag else [
                arg for one in (value if param.multiple else (value,)) for arg in (flag, str(one))]
    return args


def _report(result: Any) -> None:
    """The crawl's summary line, then where it stored its articles (none: no such line)."""
    click.echo(f"Crawl {result.outcome}: {result.summary.line()}")
    if result.summary.stored:
        click.echo(f"Dataset: {result.stats.get(keys.DATASET, result.data_dir)}")


HELP_OPTIONS = ("-h", "--help")


class WholeHelpGroup(click.Group):
    """A group whose command list shows each command's first sentence whole, wrapped, not cut at "...";
    newsspider's errors, from any of its commands, as ``Error: <message>`` and their exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # `... | head`: click's own handling
            raise
        except (NewsspiderError, OSError) as exc:  # one line (what and where), never a traceback
            error = click.ClickException(str(exc))
            error.exit_code = getattr(exc, "exit_code", EXIT_ERROR)  # type: ignore[misc]  # a ClassVar
            raise error from exc

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        # -h as well as --help on every command, however its context is made: click keeps the first
        # help option a command is asked for, and a context made without its group's has --help only
        cmd.context_settings.setdefault("help_option_names", list(HELP_OPTIONS))
        super().add_command(cmd, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, command.get_short_help_str(limit=10_000))
                for name in self.list_commands(ctx)
                if (command := self.get_command(ctx, name)) is not None and not command.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=WholeHelpGroup, context_settings={"help_option_names": list(HELP_OPTIONS)})
@click.version_option(__version__, prog_name="newsspider")
def main() -> None:
    """Archive bannedbook.org (禁闻网) into a deduplicated JSON Lines dataset.

    Every command that reads or writes a data dir takes it either way: as its first argument
    (newsspider runs data/demo) or as --data-dir (newsspider runs --data-dir data/demo); left out,
    it is ./data (./data/demo for demo).
    """


@main.command()
@crawl_options
def crawl(start_urls: tuple[str, ...], data_dir: Path, resume: bool, refresh: bool, **options: Any) -> None:
    """Crawl the site (or a copy at the start URLs' host) into DATA_DIR/articles.jsonl.

    Articles already in DATA_DIR are not fetched again, and a listing's
    pagination stops at a page with nothing new, so a recurring crawl costs
    what is new. With --redis-url, any number of workers share one crawl,
    each writing DATA_DIR/articles-<worker id>.jsonl.
    """
    overrides = crawl_overrides(options)
    _outcome(_crawl(list(start_urls) or None, data_dir, overrides, resume=resume, refresh=refresh))


@main.command()
@data_dir_parameter("The data dir whose web archive is read.")
@click.option("--out", type=click.Path(path_type=Path), metavar="OTHER_DIR",
              help="Write the records into this data dir instead (every archived article stored).")
@click.option("--jobs", type=click.IntRange(min=0), metavar="N",
              help="Worker processes that read and extract the pages (default 0: one per CPU, "
                   "from 1,000 pages).")
@click.option("-s", "--set", "settings", multiple=True, metavar="NAME=VALUE",
              help="Override a newsspider or Scrapy setting (repeatable), e.g. -s LOG_LEVEL=DEBUG.")
def reextract(data_dir: Path, out: Path | None, jobs: int | None, settings: tuple[str, ...]) -> None:
    """Extract DATA_DIR's archived article pages again, offline (nothing is fetched).

    Into DATA_DIR, an article whose extracted fields changed is stored again
    with the next version (as --refresh does); with --out, every archived
    article is stored into OTHER_DIR.
    """
    from newsspider.run.runner import run_reextract

    overrides = _overrides(settings)
    if jobs is not None:
        overrides["NEWSSPIDER_REEXTRACT_JOBS"] = str(jobs)
    result = run_reextract(data_dir, out, overrides)
    stats = result.stats
    click.echo(f"Re-extraction {result.outcome}: {stats.get('response_received_count', 0)} archived "
               f"pages read, {stats.get(keys.STORED, 0)} stored "
               f"({stats.get(keys.UPDATED, 0)} new versions), "
               f"{stats.get(keys.UNCHANGED, 0)} unchanged, {stats.get(keys.DROPPED, 0)} "
               f"dropped, {result.summary.failed} failed")
    if result.summary.stored:
        click.echo(f"Dataset: {stats.get(keys.DATASET, result.data_dir)}")
    _outcome_errors(result)


@main.command()
@START_URL_OPTION
@SINCE_OPTION
@UNTIL_OPTION
@data_dir_parameter("A dataset whose bytes an article to count with (else the benchmark site's).")
@SETTING_OPTION
@NO_SITEMAPS_OPTION
@PROXY_OPTION
@IMPERSONATE_OPTION
def estimate(start_urls: tuple[str, ...], since: str | None, until: str | None, data_dir: Path,
             **options: Any) -> None:
    """Tell what a crawl would fetch, how long it takes and the disk it needs, from a few listing pages.

    Each start listing's first page is read, then page numbers doubling and halving find its last
    page (and, with --since/--until, the window's first and last); the front page's listing too when
    a start listing links to it (a crawl reaches it).  A few articles and the first page of their tag
    and category listings tell the pages of the listings a crawl walks.  The time is at the
    politeness settings (-s DOWNLOAD_DELAY=…; with none, it is the server's pace).
    """
    from newsspider.core.window import Window
    from newsspider.run.runner import estimate as measure

    if data_dir.exists() and not data_dir.is_dir():
        raise click.ClickException(f"{display_path(data_dir)}: not a data dir (a file)")
    overrides = crawl_overrides({**options, "since": since, "until": until})
    window = Window.from_settings(since, until).words()
    click.echo(measure(list(start_urls) or None, data_dir, overrides, window))


@main.command()
@click.option("--every", metavar="DURATION", help="Crawl every DURATION (6h, 30m, 1h30m, 90s), starting now.")
@click.option("--cron", metavar="EXPR", help='Crawl on a cron schedule in UTC, e.g. "0 */6 * * *".')
@crawl_options
def schedule(every: str | None, cron: str | None, start_urls: tuple[str, ...], data_dir: Path,
             proxies: tuple[str, ...], **options: Any) -> None:
    """Crawl repeatedly, each crawl in its own process, never two at once.

    Each crawl's log goes to DATA_DIR/logs/. SIGTERM or Ctrl-C stop the
    scheduler after the running crawl.
    """
    import logging

    from newsspider.access.proxies import parse_proxies
    from newsspider.dataset.storage import prepare_data_dir
    from newsspider.run.runner import SECRET_SETTINGS, check_crawl
    from newsspider.run.schedule import run_schedule, trigger_for

    overrides = crawl_overrides({**options, "proxies": proxies})  # now, not in every crawl's log
    check_crawl(start_urls, overrides)
    proxy_urls = parse_proxies(proxies)  # a bad proxy URL now, not in every crawl's log
    trigger = trigger_for(every, cron)
    data_dir = prepare_data_dir(data_dir)
    # Passwords and tokens reach each crawl in its environment, never on its command line (ps).
    secrets = {name: value for name, value in overrides.items() if name in SECRET_SETTINGS}
    secrets |= {"NEWSSPIDER_PROXIES": ",".join(proxy_urls)} if proxy_urls else {}
    args = crawl_args(click.get_current_context().params, data_dir)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        datefmt="%Y-%m-%d %H:%M:%S")
    run_schedule(trigger, args, data_dir, run_now=every is not None, secrets=secrets)


@main.command()
@data_dir_parameter("The data dir whose crawls to show.")
@click.option("--redis-url", metavar="redis://HOST:PORT/DB",
              help="Show the runs of the distributed crawl kept in this Redis instead.")
@click.option("--redis-prefix", default=REDIS_PREFIX, show_default=True,
              help="The crawl's NEWSSPIDER_REDIS_PREFIX.")
@click.option("--run", "run_id", type=int, metavar="N", help="Show run N in full.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per run) instead.")
def runs(data_dir: Path, redis_url: str | None, redis_prefix: str, run_id: int | None,
         as_json: bool) -> None:
    """Print the crawl history of DATA_DIR (or of a distributed crawl): counts, field coverage, checks.

    The coverage columns are the share of the run's stored records that have
    the field (sum = summary, auth = author, src = source, ed = editor,
    cred = image credit, rel = related links, time = published_at); body is
    the median body length in characters.
    """
    import json

    from newsspider.views.runs import run_record, run_table, run_text

    source: Path | str = data_dir
    if redis_url:
        from newsspider.core.credentials import redact

        history, source = _redis_runs(redis_url, redis_prefix), redact(redis_url)
    else:
        from newsspider.memory.sqlite import read_runs

        if not data_dir.is_dir():
            raise click.ClickException(f"{display_path(data_dir)}: no such data dir"
                                       + (" (it is a file)" if data_dir.exists() else ""))
        history = read_runs(data_dir)
    if run_id is not None:
        history = [run for run in history if run.run_id == run_id]
        if not history:
            raise click.ClickException(f"no run {run_id} in {source}")
    if as_json:
        for run in history:
            click.echo(json.dumps(run_record(run), ensure_ascii=False))
    elif not history:
        click.echo(f"no crawls recorded in {source}")
    elif run_id is not None:
        click.echo(run_text(history[0]))
    else:
        click.echo(run_table(history))


def _redis_runs(url: str, prefix: str) -> list[Any]:
    from newsspider.memory.redis import read_redis_runs
    from newsspider.run.runner import check_redis

    check_redis(url)
    return read_redis_runs(url, prefix)


@main.command()
@data_dir_parameter("Directory for the demo's dataset.", Path("data/demo"))
@click.option("--port", type=int, default=0, show_default=True,
              help="Port for the demo site on 127.0.0.1 (0 picks a free one).")
@click.option("--serve", is_flag=True,
              help="Keep the demo site up after the crawl, until Ctrl-C, to try the docs' examples on it.")
@SETTING_OPTION
def demo(data_dir: Path, port: int, serve: bool, settings: tuple[str, ...]) -> None:
    """Serve the bundled sample site on 127.0.0.1 and crawl it into DATA_DIR.

    With --serve the site stays up until Ctrl-C, to try the docs' examples on it (--port 8000: at the
    address they use).  To try recurring crawls, --refresh and dataset diff, change the site while it
    is served, as the live one changes between two crawls:

    \b
      curl -X POST 'http://127.0.0.1:PORT/__add__?n=3'             # publish 3 new articles
      curl -X POST 'http://127.0.0.1:PORT/__edit__?id=2060000'     # edit one
      curl -X POST 'http://127.0.0.1:PORT/__remove__?id=2060037&how=410'  # take one down (404, 410, home)
      curl -X POST 'http://127.0.0.1:PORT/__restore__?id=2060037'  # put it back
    """
    from newsspider.dataset.reader import iter_records
    from newsspider.demo.server import serve_in_thread

    try:
        server = serve_in_thread(port=port)
    except (OSError, OverflowError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "must be 0-65535"
        raise click.ClickException(f"--port {port}: {reason}") from exc
    start_url = f"{server.root}/bnews/"
    click.echo(f"Demo site (the two real seed pages plus generated ones) at {start_url}")
    # with its images and stylesheets (--images): the reading room shows the archived pages as served
    overrides = {"DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "False",
                 "CONCURRENT_REQUESTS_PER_DOMAIN": "16", "NEWSSPIDER_IMAGES": "True", **_overrides(settings)}
    try:
        result = _crawl([start_url], data_dir, overrides)
        _report(result)
        if archived := result.stats.get(keys.WARC_RECORDS):
            click.echo(f"Web archive: {archived} responses kept in {display_path(data_dir / 'warc')}; "
                       f"one back: newsspider dataset page {display_path(data_dir)} 2054421")
        records = sorted(iter_records(data_dir, errors="skip"),
                         key=lambda r: (r["published_date"], int(r["article_id"])))
        click.echo(f"{len(records)} articles in the dataset; a few titles:")
        for record in records[:: max(1, len(records) // 5)][:5]:
            click.echo(f"  {record['published_date']}  {record['title']}")
        _outcome_errors(result)
        if serve:
            click.echo(f"Serving the demo site at {start_url} until Ctrl-C; for instance:\n  newsspider "
                       f"crawl --start-url {start_url} --data-dir data/demo-2 -s DOWNLOAD_DELAY=0")
            click.echo(f"To change the site between two crawls: curl -X POST '{server.root}/__add__?n=3' "
                       f"(3 new articles), curl -X POST '{server.root}/__edit__?id=2060000' (an edit)")
            _wait_for_a_stop()
    finally:
        server.shutdown()


def _wait_for_a_stop() -> None:
    """Return on SIGINT (Ctrl-C) or SIGTERM."""
    import signal
    import threading

    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass


@main.group(cls=WholeHelpGroup)
def dataset() -> None:
    """Read, summarise and export a dataset (a data dir or one .jsonl file)."""


DATASET_ARGUMENT = data_dir_parameter("The dataset: a data dir, or one .jsonl file.", name="path")
#: --data-dir of a command whose DATA_DIR argument shares the positional arguments with others (page, diff,
#: search): the command sorts them out
DATA_DIR_AS_OPTION = click.option("--data-dir", type=click.Path(path_type=Path), metavar="DIR",
                                  help="The dataset: a data dir, or one .jsonl file. The same as DATA_DIR "
                                       "(default: data).")
SINCE_FILTER = click.option("--since", metavar="DAY", type=Day(),
                            help=f"Only articles published on or after this day: {DAY_HELP}.")
UNTIL_FILTER = click.option("--until", metavar="DAY", type=Day(),
                            help=f"Only articles published on or before this day: {DAY_HELP}.")
SKIP_BAD_LINES_OPTION = click.option(
    "--skip-bad-lines", is_flag=True,
    help="Skip lines that are not records (with a warning naming file and line) instead of failing.",
)


class ExportFormat(click.Choice[str]):
    """One of :data:`newsspider.dataset.export.FORMATS`, read from there when first asked for (importing
    the export module when the command line starts would double the time of ``newsspider --help``)."""

    def __init__(self) -> None:
        self.case_sensitive = True

    def __getattr__(self, name: str) -> Any:
        if name != "choices":
            raise AttributeError(name)
        from newsspider.dataset.export import FORMATS
        from newsspider.views.zim import FORMATS as OFFLINE_FORMATS

        self.choices = FORMATS + OFFLINE_FORMATS
        return self.choices


def _dataset_dir(path: Path) -> Path:
    """*path*, when it holds a dataset; else exit 1 naming the dataset dirs found below it."""
    from newsspider.dataset.layout import SHARD_GLOB

    if not path.is_dir() or any(path.glob(SHARD_GLOB)):
        return path
    found = sorted({shard.parent for depth in ("*/", "*/*/") for shard in path.glob(depth + SHARD_GLOB)})
    hint = (f"; did you mean {' or '.join(display_path(p) for p in found[:3])}?" if found
            else "; crawl into it first (newsspider crawl --data-dir …)")
    raise click.ClickException(f"{display_path(path)}: no dataset here (no articles*.jsonl){hint}")


def _errors(skip_bad_lines: bool) -> Any:
    return "skip" if skip_bad_lines else "raise"


@dataset.command()
@DATASET_ARGUMENT
@SKIP_BAD_LINES_OPTION
def info(path: Path, skip_bad_lines: bool) -> None:
    """Counts, date range, categories, top tags and sources, field coverage, shards, bad lines."""
    path = _dataset_dir(path)
    from newsspider.views.report import info_text, summarize

    click.echo(info_text(summarize(path, _errors(skip_bad_lines))))


@dataset.command("export")
@DATASET_ARGUMENT
@click.option("--format", "fmt", type=ExportFormat(),
              required=True,
              help="Parquet (typed, through pyarrow); for spreadsheets xlsx (openpyxl), csv, or excel-csv "
                   "(csv with the UTF-8 mark Excel needs): id, date, title first, body last, rows by date, "
                   "lists joined with '; '; JSON Lines as stored; zim: the offline edition for Kiwix (pages, "
                   "images, Chinese search; pip install 'newsspider[zim]').")
@click.option("--out", type=click.Path(path_type=Path),
              help="The file to write (required; with --format zim the default is "
                   "bannedbook_LANG_SELECTION_YYYY-MM.zim here, naming the edition).")
@SINCE_FILTER
@UNTIL_FILTER
@click.option("--category", help="Only this category (and its subcategories), e.g. renquan.")
@click.option("--tag", help="Only articles with this tag.")
@click.option("--max-image-kb", type=click.IntRange(min=1), default=None, metavar="KB",
              help="zim: each image at most this size, recompressed or resized to fit (default: 100).")
@click.option("--traditional", is_flag=True,
              help="zim: the traditional-script edition (the text converted with OpenCC, for readers in "
                   "Hong Kong and Taiwan).")
@SKIP_BAD_LINES_OPTION
def export_command(path: Path, fmt: str, out: Path | None, since: str | None, until: str | None,
                   category: str | None, tag: str | None, max_image_kb: int | None, traditional: bool,
                   skip_bad_lines: bool) -> None:
    """Write one clean, deduplicated file: the latest version of each article."""
    path = _dataset_dir(path)
    from newsspider.dataset.export import Filters, export
    from newsspider.views.zim import FORMATS as OFFLINE_FORMATS

    if fmt in OFFLINE_FORMATS:
        _export_zim(path, out, Filters(since, until, category, tag), max_image_kb, traditional,
                    skip_bad_lines)
        return
    for given, name in ((max_image_kb is not None, "--max-image-kb"), (traditional, "--traditional")):
        if given:
            raise click.UsageError(f"{name} is an option of --format zim")
    if out is None:
        raise click.UsageError("Missing option '--out'.")
    try:
        count = export(path, out, fmt, Filters(since, until, category, tag), _errors(skip_bad_lines))
    except ImportError as exc:
        raise click.ClickException(f"{fmt} export needs {(exc.name or fmt).partition('.')[0]}: "
                                   "pip install 'newsspider[data]'") from exc
    click.echo(f"{count} articles written to {out}")


def _export_zim(path: Path, out: Path | None, filters: Any, max_image_kb: int | None, traditional: bool,
                skip_bad_lines: bool) -> None:
    from newsspider.views.zim import DEFAULT_MAX_IMAGE_KB

    try:
        from newsspider.views.zim.writer import Edition, write_zim

        written = write_zim(path, out, Edition(filters, traditional), max_image_kb or DEFAULT_MAX_IMAGE_KB,
                            _errors(skip_bad_lines))
    except ImportError as exc:
        raise click.ClickException(f"zim export needs {(exc.name or 'libzim').partition('.')[0]}: "
                                   "pip install 'newsspider[zim]'") from exc
    if written.no_archive:
        click.echo(f"warning: {written.no_archive}", err=True)
    missing = f", {written.images_missing} not archived left out" if written.images_missing else ""
    click.echo(f"{written.articles} articles and {written.images} images{missing} written to "
               f"{display_path(written.path)}")


@dataset.command()
@DATASET_ARGUMENT
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The CSV file to write.")
@SKIP_BAD_LINES_OPTION
def graph(path: Path, out: Path, skip_bad_lines: bool) -> None:
    """The related-article and tag link graph as a CSV edge list: source,target,kind."""
    path = _dataset_dir(path)
    from newsspider.dataset.export import write_graph

    count = write_graph(path, out, _errors(skip_bad_lines))
    click.echo(f"{count} edges written to {out}")


@dataset.command()
@DATASET_ARGUMENT
@click.option("--out", type=click.Path(path_type=Path), default=Path("report.html"), show_default=True,
              help="The HTML file to write.")
@SKIP_BAD_LINES_OPTION
def report(path: Path, out: Path, skip_bad_lines: bool) -> None:
    """A self-contained HTML page: articles over time, top tags over time, field coverage and failures
    per run (from the data dir's run history), sources, categories."""
    path = _dataset_dir(path)
    from newsspider.dataset.export import atomic_output
    from newsspider.memory import StateError
    from newsspider.memory.sqlite import read_runs
    from newsspider.views.report import html_report, summarize

    try:
        runs = read_runs(path) if path.is_dir() else []
    except StateError as exc:  # the crawl's memory is damaged, not the dataset: the report goes on
        click.echo(f"warning: {exc}; the report has no run history", err=True)
        runs = []
    page = html_report(summarize(path, _errors(skip_bad_lines)), runs)
    with atomic_output(out, path, binary=False) as handle:
        handle.write(page)
    click.echo(f"report written to {display_path(out)}")


@dataset.command()
@click.argument("args", nargs=-1, metavar="[DATA_DIR] ARTICLE_ID")
@DATA_DIR_AS_OPTION
@click.option("--headers", is_flag=True, help="Print the archived HTTP status line and headers instead.")
@SKIP_BAD_LINES_OPTION
def page(args: tuple[str, ...], data_dir: Path | None, headers: bool, skip_bad_lines: bool) -> None:
    """Print the archived page (HTML, as it was served) of ARTICLE_ID's newest stored version."""
    from newsspider.archive.reader import page_of

    data_dir, article_id = _dir_and_article(args, data_dir, "page data/demo 2054421")
    archived = page_of(data_dir, article_id, _errors(skip_bad_lines))
    if headers:
        click.echo(archived.header_text())
        return
    click.echo(archived.body, nl=False)  # the bytes as served, in the page's own encoding


@dataset.command("sqlite")
@DATASET_ARGUMENT
@click.option("--out", type=click.Path(path_type=Path), help="The database (default DATA_DIR/archive.db).")
@SKIP_BAD_LINES_OPTION
def sqlite_command(path: Path, out: Path | None, skip_bad_lines: bool) -> None:
    """Build a SQLite database of the dataset with a Chinese-aware full-text index (run again: adds
    what is new or changed)."""
    path = _dataset_dir(path)
    built = _build_database(path, out, skip_bad_lines)
    click.echo(f"{display_path(built.path)}: {built.articles} articles ({built.added} added, "
               f"{built.changed} changed, from {built.read} records read"
               f"{f', {built.skipped} bad lines skipped' if built.skipped else ''})")
    if built.not_compacted:
        click.echo(f"{display_path(built.path)}: complete, but the space it freed is not given back "
                   f"({built.not_compacted}); run the command again with more free disk", err=True)


def _build_database(path: Path, out: Path | None, skip_bad_lines: bool) -> Any:
    from newsspider.views.search.database import build

    return build(path, out, _errors(skip_bad_lines))


@dataset.command("search")
@click.argument("words", metavar="[DATA_DIR] QUERY...", nargs=-1, required=True)
@DATA_DIR_AS_OPTION
@SINCE_FILTER
@UNTIL_FILTER
@click.option("--tag", help="Only articles with this tag.")
@click.option("--category", help="Only this category (and its subcategories), e.g. renquan.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="At most this many hits.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per hit (JSON Lines).")
@click.option("--same-script", is_flag=True,
              help="Only the form typed: 中国 does not also find 中國 (OpenCC's conversions).")
@click.option("--db", type=click.Path(path_type=Path), help="The database (default DATA_DIR/archive.db).")
@SKIP_BAD_LINES_OPTION
def search_command(words: tuple[str, ...], data_dir: Path | None, since: str | None, until: str | None,
                   tag: str | None, category: str | None, limit: int, as_json: bool, same_script: bool,
                   db: Path | None, skip_bad_lines: bool) -> None:
    """Articles whose title, summary or body hold every word of QUERY (Han characters: any substring;
    Latin words and numbers: whole; "a quoted phrase": exactly), best first, with a snippet.

    Words may be given as one argument or several (新疆 棉花 = '新疆 棉花': both).  DATA_DIR is the first
    argument when it names a file or directory (or holds a '/'), else the data dir is --data-dir or
    data.  The database is built or brought up to date first."""
    import json

    from newsspider.views.search.database import RANKED, Where, count, search

    given = Path(words[0]) if len(words) > 1 and _names_a_path(words[0]) and data_dir is None else None
    if len(words) == 1 and ("/" in words[0] or words[0].endswith(".jsonl")):
        raise click.UsageError(f"missing QUERY: what to search {words[0]} for")
    query = " ".join(words[1:] if given else words)
    path = _dataset_dir(given or data_dir or Path("data"))
    built = _build_database(path, db, skip_bad_lines)
    where = Where(since, until, tag, category)
    from newsspider.views.search.database import open_readonly

    conn = open_readonly(built.path)
    try:
        total = count(conn, query, where, not same_script)
        hits = list(search(conn, query, where, min(limit, total), not same_script, total))
    finally:
        conn.close()
    if as_json:
        for hit in hits:
            click.echo(json.dumps(hit.as_json(), ensure_ascii=False))
        return
    said = f"{total} article holds" if total == 1 else f"{total} articles hold"
    best = "the best" if total <= RANKED else "the newest"
    click.echo(f"{said} {query}" + (f"; {best} {len(hits)}:" if total > len(hits) else ":" if hits else ""))
    for hit in hits:
        marked, last = [], 0
        for start, end in hit.highlights:
            marked += [hit.snippet[last:start], click.style(hit.snippet[start:end], bold=True, fg="red")]
            last = end
        marked.append(hit.snippet[last:])
        click.echo(f"{hit.published_date}  {hit.title}\n    {hit.url}")
        if hit.archived:
            click.echo(f"    archived copy: newsspider dataset page {shlex.quote(display_path(path))} "
                       f"{hit.article_id}")
        click.echo(f"    {''.join(marked)}")


@dataset.command()
@click.argument("args", nargs=-1, metavar="[DATA_DIR] ARTICLE_ID")
@DATA_DIR_AS_OPTION
@click.option("--from", "from_version", type=int, help="The older version (default: the one before --to).")
@click.option("--to", "to_version", type=int, help="The newer version (default: the newest).")
@SKIP_BAD_LINES_OPTION
def diff(args: tuple[str, ...], data_dir: Path | None, from_version: int | None, to_version: int | None,
         skip_bad_lines: bool) -> None:
    """What changed between two stored versions of ARTICLE_ID, field by field ([-deleted-]{+inserted+})."""
    from newsspider.dataset.diff import field_diffs, versions_to_compare
    from newsspider.dataset.reader import iter_records

    path, article_id = _dir_and_article(args, data_dir, "diff data/demo 2060000")
    versions = {int(r.get("version") or 1): r for r in iter_records(path, _errors(skip_bad_lines))
                if r["article_id"] == article_id}
    if not versions:
        raise click.ClickException(f"{display_path(path)}: no article {article_id}")
    from_version, to_version = versions_to_compare(versions, article_id, from_version, to_version)
    old, new = versions[from_version], versions[to_version]
    click.echo(f"article {article_id}: version {from_version} ({old['crawled_at']}) → "
               f"version {to_version} ({new['crawled_at']})")
    changes = list(field_diffs(old, new))
    for name, change in changes:
        click.echo(f"{name}: {change}")
    if not changes:
        click.echo("no field changed" if from_version != to_version else "only one version is stored")


@dataset.command("warc-index")
@data_dir_parameter("The data dir whose web archive to index.")
@click.option("--out", type=click.Path(path_type=Path),
              help="The index to write (default DATA_DIR/index.cdxj).")
def warc_index(data_dir: Path, out: Path | None) -> None:
    """Write a CDXJ index of DATA_DIR's web archive (for pywb and other replay tools)."""
    with _archive_extra("warc-index"):
        from newsspider.archive.package import write_index
    path, count = write_index(data_dir, out)
    click.echo(f"{count} records indexed in {display_path(path)}")


AUTHORITY_OPTION = click.option(
    "--timestamp", "authorities", multiple=True, metavar="URL",
    help="An RFC 3161 timestamp authority (repeatable: several).")
TIMEOUT_OPTION = click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
                              help="Seconds each timestamp authority is given to answer.")


@dataset.command()
@data_dir_parameter("The data dir whose web archive to package.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The .wacz file to write.")
@click.option("--sign", "key", type=click.Path(path_type=Path), metavar="KEY",
              help="Sign the package with this ECDSA P-256 private key (PEM: newsspider key new KEY); an "
                   "encrypted key's password is read from NEWSSPIDER_KEY_PASSWORD or asked on the terminal.")
@AUTHORITY_OPTION
@TIMEOUT_OPTION
@SKIP_BAD_LINES_OPTION
def wacz(data_dir: Path, out: Path, key: Path | None, authorities: tuple[str, ...], timeout: float,
         skip_bad_lines: bool) -> None:
    """Package DATA_DIR's web archive as WACZ (WARCs, index, the articles as pages); with --sign, signed
    (datapackage-digest.json, the WACZ auth spec's signedData) and timestamped by each --timestamp
    authority, with the run manifests, their timestamps and the dataset inside."""
    if authorities and key is None:
        raise click.UsageError("--timestamp timestamps the package's signature: give --sign KEY too")
    with _archive_extra("wacz"):
        from newsspider.archive.package import write_wacz
    signing = None
    if key is not None:
        with _evidence_extra():
            from newsspider.archive.evidence import load_key
        signing = load_key(key, _key_password)
    count, problems = write_wacz(data_dir, out, _errors(skip_bad_lines), signing, list(authorities), timeout)
    for problem in problems:
        click.echo(f"warning: {problem}; the signature is kept without this timestamp", err=True)
    click.echo(f"{count} pages packaged in {display_path(out)}"
               + (f", signed{' and timestamped' if len(problems) < len(authorities) else ''}" if key else ""))


def _key_password() -> bytes | None:
    """An encrypted key's password: from NEWSSPIDER_KEY_PASSWORD, else asked on a terminal (not shown)."""
    import os
    import sys

    from newsspider.archive.evidence import PASSWORD_ENV

    if given := os.environ.get(PASSWORD_ENV):
        return given.encode("utf-8")
    if sys.stdin.isatty():
        return str(click.prompt("Password of the key", hide_input=True, err=True)).encode("utf-8")
    return None


@contextmanager
def _evidence_extra() -> Iterator[None]:
    """Signatures and timestamps use an optional extra: without it, one line saying so."""
    try:
        import cryptography  # noqa: F401
        import rfc3161_client  # noqa: F401
    except ImportError as exc:
        raise click.ClickException(f"signatures and timestamps need {(exc.name or '').partition('.')[0]}: "
                                   "pip install 'newsspider[evidence]'") from exc
    yield


@dataset.command()
@data_dir_parameter("The data dir whose run manifests to timestamp.")
@click.option("--timestamp", "authorities", multiple=True, metavar="URL", required=True,
              help="An RFC 3161 timestamp authority (repeatable: several).")
@TIMEOUT_OPTION
@click.option("--all", "again", is_flag=True,
              help="Timestamp every manifest again, not only those without a token of this authority.")
def timestamp(data_dir: Path, authorities: tuple[str, ...], timeout: float, again: bool) -> None:
    """Timestamp DATA_DIR's run manifests (DATA_DIR/evidence/) that a crawl could not: each by every
    --timestamp authority that has not timestamped it yet."""
    with _evidence_extra():
        from newsspider.archive.evidence import manifests, timestamp_file, token_path
    if not data_dir.is_dir():
        raise click.ClickException(f"{display_path(data_dir)}: no such data dir")
    found = manifests(data_dir)
    if not found:
        raise click.ClickException(f"{display_path(data_dir)}: no run manifests in evidence/ (crawl with the "
                                   "web archive on first)")
    failed = done = 0
    for manifest in found:
        wanted = [url for url in authorities if again or not token_path(manifest, url).exists()]
        written, problems = timestamp_file(manifest, wanted, timeout)
        for problem in problems:
            click.echo(f"{display_path(manifest)}: {problem}", err=True)
        failed += bool(problems)
        done += len(written)
    click.echo(f"{done} timestamps added to {len(found)} run manifests of {display_path(data_dir)}")
    if failed:
        raise click.exceptions.Exit(1)


@contextmanager
def _archive_extra(command: str) -> Iterator[None]:
    """The CDXJ index and WACZ packaging use an optional extra: without it, one line saying so."""
    try:
        yield
    except ImportError as exc:
        module = (exc.name or "").partition(".")[0] or "its extra"
        raise click.ClickException(f"dataset {command} needs {module}: "
                                   "pip install 'newsspider[archive]'") from exc


@main.group(cls=WholeHelpGroup)
def key() -> None:
    """The key that signs a WACZ (dataset wacz --sign KEY)."""


@key.command("new")
@click.argument("path", metavar="FILE", type=click.Path(path_type=Path))
@click.option("--encrypt", is_flag=True,
              help="Encrypt the key with a password, read from NEWSSPIDER_KEY_PASSWORD or asked twice "
                   "on the terminal.")
def key_new(path: Path, encrypt: bool) -> None:
    """Write a new ECDSA P-256 private key (PEM, readable by you only) to FILE and print its public key's
    fingerprint.  Keep it off the machine that serves the archive; openssl makes the same kind:
    openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out FILE."""
    with _evidence_extra():
        from newsspider.archive.evidence import PASSWORD_ENV, new_key
    import os
    import sys

    password = None
    if encrypt:
        if given := os.environ.get(PASSWORD_ENV):
            password = given.encode("utf-8")
        elif sys.stdin.isatty():
            password = str(click.prompt("Password for the key", hide_input=True, confirmation_prompt=True,
                                        err=True)).encode("utf-8")
        else:
            raise click.ClickException(f"--encrypt: set {PASSWORD_ENV}, or run on a terminal to be asked")
    click.echo(f"{display_path(path)}: new key, public key {new_key(path, password)}")


@main.command()
@click.argument("path", metavar="PATH", type=click.Path(path_type=Path))
@click.argument("article_id", metavar="[ARTICLE_ID]", required=False)
@click.option("--tsa-cert", "tsa_certs", multiple=True, type=click.Path(path_type=Path), metavar="PEM",
              help="Trust timestamps only from authorities whose certificate chain ends at a certificate "
                   "of this PEM file (repeatable).  Default: the authority's root certificate kept in the "
                   "archive, which proves the token is whole, not who made it.")
@click.option("--html", "html_out", type=click.Path(path_type=Path), metavar="FILE",
              help="With ARTICLE_ID: also write its certificate as a self-contained HTML page.")
def verify(path: Path, article_id: str | None, tsa_certs: tuple[Path, ...], html_out: Path | None) -> None:
    """Verify a WACZ, a data dir, or one article of a data dir, offline: each file against its hash, the
    signature, each timestamp against its authority's certificate, each record against its archived
    page.  One line per problem, then a summary; exit 0 only when everything verifies.  For an
    ARTICLE_ID, its certificate of capture."""
    with _evidence_extra():
        from newsspider.archive.evidence import (
            certificate,
            certificate_html,
            certificate_text,
            load_trusted,
            verify_data_dir,
            verify_wacz,
        )
    trusted = load_trusted(tsa_certs)
    if html_out is not None and article_id is None:
        raise click.UsageError("--html writes one article's certificate: give ARTICLE_ID")
    if not path.exists():
        raise click.ClickException(f"{display_path(path)}: no such file or data dir")
    if article_id is not None:
        if not path.is_dir():
            raise click.UsageError(f"ARTICLE_ID needs a data dir; {display_path(path)} is a file")
        fields, report = certificate(_dataset_dir(path), article_id, trusted)
        for line in report.problems:
            click.echo(line)
        click.echo(certificate_text(fields))
        if html_out is not None:
            from newsspider.dataset.export import atomic_output

            with atomic_output(html_out, path, binary=False) as handle:
                handle.write(certificate_html(fields))
            click.echo(f"certificate written to {display_path(html_out)}")
        what = f"article {article_id} of {display_path(path)}"
    else:
        report = verify_data_dir(path, trusted) if path.is_dir() else verify_wacz(path, trusted)
        for line in report.problems:
            click.echo(line)
        what = display_path(path)
    if report.stamps and not trusted:
        report.notes.append("the timestamps were checked against their authorities' root certificates "
                            "kept in the archive: they prove the tokens whole, --tsa-cert PEM proves who "
                            "made them")
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(report.summary(what))
    if not report.ok:
        raise click.exceptions.Exit(1)


def _dir_and_article(args: tuple[str, ...], data_dir: Path | None, example: str) -> tuple[Path, str]:
    """The dataset and the article id of ``[DATA_DIR] ARTICLE_ID`` and ``--data-dir``."""
    if len(args) not in (1, 2):
        raise click.UsageError(f"expected [DATA_DIR] ARTICLE_ID, e.g. newsspider dataset {example}")
    given = Path(args[0]) if len(args) == 2 else None
    return _dataset_dir(_one_data_dir(given, data_dir, Path("data"))), args[-1]


def _names_a_path(text: str) -> bool:
    """Whether a first argument of ``dataset search`` is its data dir rather than a word of the query."""
    return "/" in text or text.endswith(".jsonl") or Path(text).exists()


@main.command()
@data_dir_parameter("The dataset to serve.")
@click.option("--port", type=click.IntRange(0, 65535), default=8001, show_default=True,
              help="Port to listen on (0: a free one, printed).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; another than 127.0.0.1 serves the archive to other machines.")
@click.option("--allow-host", "allowed_hosts", metavar="NAME", multiple=True,
              help="Answer requests for this host name too (the name a reverse proxy serves it under); "
                   "besides it only localhost and IP addresses are answered.  Repeatable.")
@click.option("--allow-sql/--no-allow-sql", default=None,
              help="Let visitors run any read-only SQL query.  [default: on when only this machine is "
                   "served (--host 127.0.0.1, no --allow-host), off otherwise]")
@click.option("--db", type=click.Path(path_type=Path), help="The database (default DATA_DIR/archive.db).")
@SKIP_BAD_LINES_OPTION
def browse(data_dir: Path, port: int, host: str, allowed_hosts: tuple[str, ...], allow_sql: bool | None,
           db: Path | None, skip_bad_lines: bool) -> None:
    """Search and browse DATA_DIR in the browser: Datasette on 127.0.0.1, read-only, over the database
    (built or brought up to date first; a later dataset sqlite updates what it serves).  Only requests
    for localhost, an IP address or an --allow-host name are answered.  Needs pip install
    'newsspider[browse]'."""
    try:
        import uvicorn
        from datasette.app import Datasette
        from datasette.plugins import pm

        from newsspider.views.search import browse as plugin
    except ImportError as exc:
        raise click.ClickException(f"browse needs {(exc.name or 'datasette').partition('.')[0]}: "
                                   "pip install 'newsspider[browse]'") from exc
    for name in allowed_hosts:
        if plugin.host_name(name) != name.lower().rstrip(".") or ":" in name:
            raise click.ClickException(f"--allow-host {name!r}: not a host name (a name such as "
                                       "archive.example.org, without scheme, port or path)")
    data_dir = _dataset_dir(data_dir)
    built = _build_database(data_dir, db, skip_bad_lines)
    served = _unicode_path(built.path)
    name = Path(served).stem
    if not pm.is_registered(plugin):
        pm.register(plugin, name=plugin.PLUGIN)
    if allow_sql is None:
        allow_sql = not plugin.serves_others(host, allowed_hosts)
    # read-only, not immutable: dataset sqlite, search or another browse may update it while it is served
    app = Datasette(files=[served], metadata=plugin.metadata(name),
                    template_dir=str(plugin.TEMPLATES),
                    settings={"default_page_size": 50, "facet_time_limit_ms": 1000,
                              "sql_time_limit_ms": 5000, "default_allow_sql": allow_sql})
    plugin.configure(app, data_dir.resolve())
    listening = plugin.listen(host, port)  # bound here: a port in use is this command's one-line error
    bound = listening.getsockname()[0]
    everywhere = bound in ("0.0.0.0", "::")  # every address of this machine: shown by its loopback one
    if everywhere:
        bound = "::1" if bound == "::" else "127.0.0.1"
    shown = f"[{bound}]" if ":" in bound else bound
    click.echo(f"{built.articles} articles of {display_path(data_dir)} at "
               f"http://{shown}:{listening.getsockname()[1]}/"
               f"{' and on every address of this machine' if everywhere else ''} (read-only; "
               f"{'' if allow_sql else 'no SQL queries; '}Ctrl-C stops)")
    config = uvicorn.Config(plugin.HostCheck(app.app(), allowed_hosts), log_level="warning", lifespan="on")
    import signal

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a stop as Ctrl-C is, once uvicorn is done
    try:
        uvicorn.Server(config).run(sockets=[listening])
    except KeyboardInterrupt:  # uvicorn stops on Ctrl-C, then raises it again: a stop, not an abort
        pass
    finally:
        listening.close()
    # (a Ctrl-C while uvicorn was still starting: it stopped without raising it again, and exit 0 said
    # nothing; the tests met it on a loaded machine)
    click.echo("stopped")


def _unicode_path(path: Path) -> str:
    """*path* as text that encodes to UTF-8, for a library that opens it by a URI (Datasette): for a
    name holding bytes that are not UTF-8, a symbolic link of a UTF-8 name to it, in a temporary
    directory removed when the command ends."""
    import atexit
    import shutil
    import tempfile

    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        links = tempfile.mkdtemp(prefix="newsspider-")
        atexit.register(shutil.rmtree, links, ignore_errors=True)
        name = path.name if display_path(path.name) == path.name else "archive.db"
        link = Path(links) / name
        link.symlink_to(path.absolute())
        return str(link)
    return str(path)

