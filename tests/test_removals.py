"""Articles the site removes: seen on --refresh (404, 410, a redirect elsewhere), marked provisionally, then
confirmed by a later refresh, restored when they come back; never failed pages; a site that answers every
article 404 is degraded, not a mass removal; the removals log's bad lines are skipped and counted."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq

from newsspider.dataset.export import export
from newsspider.dataset.reader import iter_articles, record_example
from newsspider.dataset.removals import current_states
from newsspider.memory.sqlite import read_runs
from newsspider.views.runs import run_text
from tests.conftest import DEGRADED, crawl, run_cli
from tests.mockserver import MockServer

GONE_404, GONE_410, GONE_HOME, BACK = 2060037, 2060074, 2060111, 2060148
#: a day: the first refresh only marks provisionally; 0: the next one confirms
DAY, NOW = ("-s", "NEWSSPIDER_REMOVED_CONFIRM=1d"), ("-s", "NEWSSPIDER_REMOVED_CONFIRM=0")


def removed(data_dir: Path) -> dict[str, tuple[str | None, str | None]]:
    return {r["article_id"]: (r["removed_at"], r["removed_how"])
            for r in iter_articles(data_dir, removals=True) if r["removed_at"]}


def test_removed_articles_provisional_then_confirmed_and_one_restored(mockserver: MockServer,
                                                                      tmp_path: Path) -> None:
    assert crawl(mockserver, tmp_path).returncode == 0
    shard = (tmp_path / "articles.jsonl").read_bytes()
    warcs = {p: p.read_bytes() for p in (tmp_path / "warc").iterdir()}
    for article_id, how in ((GONE_404, "404"), (GONE_410, "410"), (GONE_HOME, "home"), (BACK, "404")):
        mockserver.remove_article(article_id, how)

    first = crawl(mockserver, tmp_path, "--refresh", *DAY)
    assert first.returncode == 0, first.stderr
    assert "failed (" not in first.stderr, "a removed article was counted as a failed page"
    states = current_states(tmp_path)
    assert {k: (s.state, s.how) for k, s in states.items()} == {
        str(GONE_404): ("provisional", "404"), str(GONE_410): ("provisional", "410"),
        str(GONE_HOME): ("provisional", f"redirect:{mockserver.url('/bnews/')}"),
        str(BACK): ("provisional", "404")}
    assert removed(tmp_path) == {}, "confirmed by one refresh"

    mockserver.restore_article(BACK)
    mockserver.remove_article(GONE_410, "410", unlink=True)  # no page leads to it any more
    before = len(mockserver.requests())
    second = crawl(mockserver, tmp_path, "--refresh", *NOW)
    assert second.returncode == 0, second.stderr
    assert "stored articles that no page led to, asked for again: 1" in second.stderr
    asked = [r["path"] for r in mockserver.requests()[before:] if r["path"].endswith(f"/{GONE_410}.html")]
    assert len(asked) == 1, asked
    gone = removed(tmp_path)
    assert {k: how for k, (_at, how) in gone.items()} == {
        str(GONE_404): "404", str(GONE_410): "410", str(GONE_HOME): f"redirect:{mockserver.url('/bnews/')}"}
    assert all(at and at.endswith("Z") and at >= states[k].at for k, (at, _how) in gone.items())
    assert current_states(tmp_path)[str(BACK)].state == "restored"

    # the records and the archive are as they were, only added to; no page failed
    assert (tmp_path / "articles.jsonl").read_bytes().startswith(shard)
    assert all((tmp_path / "warc" / p.name).read_bytes().startswith(b) for p, b in warcs.items())
    runs = read_runs(tmp_path)
    assert [r.failed for r in runs] == [0, 0, 0] and [r.status for r in runs] == ["finished"] * 3
    removals = [json.loads(r.quality or "{}").get("removals") for r in runs]
    assert removals[1]["provisional"] == 4 and removals[1]["gone"] == 4
    assert (removals[2]["confirmed"], removals[2]["restored"], removals[2]["gone"]) == (3, 1, 0)
    assert "newly gone; marked 0 provisionally, 3 confirmed, 1 restored" in run_text(runs[2])

    # every export carries the latest state
    for fmt, name in (("jsonl", "a.jsonl"), ("csv", "a.csv"), ("xlsx", "a.xlsx"), ("parquet", "a.parquet")):
        export(tmp_path, tmp_path.parent / name, fmt)
    out = tmp_path.parent
    rows = {r["article_id"]: r for r in map(json.loads, (out / "a.jsonl").read_text("utf-8").splitlines())}
    assert rows[str(GONE_410)]["removed_how"] == "410" and rows[str(BACK)]["removed_at"] is None
    with (out / "a.csv").open(encoding="utf-8") as handle:
        cells = {r["article_id"]: r for r in csv.DictReader(handle)}
    assert cells[str(GONE_HOME)]["removed_how"].startswith("redirect:")
    assert cells[str(BACK)]["removed_at"] == ""
    table = pq.read_table(out / "a.parquet").to_pylist()
    assert sum(1 for r in table if r["removed_at"] is not None) == 3
    sheet = openpyxl.load_workbook(out / "a.xlsx", read_only=True)["articles"]
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    hows = [row[header.index("removed_how")].value for row in sheet.iter_rows(min_row=2)]
    assert sorted(h for h in hows if h) == ["404", "410", f"redirect:{mockserver.url('/bnews/')}"]


def test_a_refresh_without_sitemaps_asks_for_the_stored_articles_no_page_leads_to(mockserver: MockServer,
                                                                                   tmp_path: Path) -> None:
    """An article taken down with every link to it: the listings no longer lead to it, and the site has no
    sitemaps to leave it out of; the refresh asks for it anyway, as it does every stored article."""
    mockserver.sitemaps("off")
    assert crawl(mockserver, tmp_path).returncode == 0
    mockserver.remove_article(GONE_404, "404", unlink=True)
    before = len(mockserver.requests())
    result = crawl(mockserver, tmp_path, "--refresh", *NOW)
    assert result.returncode == 0, result.stderr
    asked = [r["path"] for r in mockserver.requests()[before:] if r["path"].endswith(f"/{GONE_404}.html")]
    assert len(asked) == 1, asked
    assert {k: (s.state, s.how) for k, s in current_states(tmp_path).items()} == {
        str(GONE_404): ("provisional", "404")}
    assert "stored articles that no page led to, asked for again: 1" in result.stderr


def test_every_article_404_is_degraded_not_a_mass_removal(mockserver: MockServer, tmp_path: Path) -> None:
    mockserver.sitemaps("off")  # a broken site: no sitemaps either, a refresh asks for every article
    assert crawl(mockserver, tmp_path).returncode == 0
    mockserver.all_gone()
    result = crawl(mockserver, tmp_path, "--refresh", *NOW)
    assert result.returncode == DEGRADED, result.stderr
    degraded = [line for line in result.stderr.splitlines() if line.startswith("Degraded: ")]
    assert len(degraded) == 1 and degraded[0].startswith("Degraded: removals/mass: "), result.stderr
    assert "refreshed articles answered as removed" in degraded[0]
    assert "failed (" not in result.stderr
    assert current_states(tmp_path) == {} and removed(tmp_path) == {}
    assert read_runs(tmp_path)[-1].failed == 0


def test_bad_lines_of_the_removals_log_are_skipped_and_counted(tmp_path: Path) -> None:
    records = [record_example(article_id=str(n)) for n in (1, 2)]
    (tmp_path / "articles.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    good = {"article_id": "2", "url": "u", "state": "confirmed", "at": "2026-01-02T00:00:00Z",
            "since": "2026-01-01T00:00:00Z", "how": "410", "run": 2}
    (tmp_path / "removals.jsonl").write_text(
        "{not json\n" + json.dumps(good) + "\n" + json.dumps({**good, "state": "gone"}) + "\n", "utf-8")
    bad: list[object] = []
    latest = {r["article_id"]: r for r in iter_articles(tmp_path, on_bad_line=bad.append, removals=True)}
    where = [str(b).split(": ", 1)[0].rsplit("/", 1)[1] for b in bad]
    assert where == ["removals.jsonl:1", "removals.jsonl:3"]
    assert (latest["2"]["removed_at"], latest["2"]["removed_how"]) == ("2026-01-02T00:00:00Z", "410")
    assert (latest["1"]["removed_at"], latest["1"]["removed_how"]) == (None, None)
    info = run_cli("dataset", "info", str(tmp_path))
    assert info.returncode == 0, info.stderr
    assert "removed:      1 confirmed removed from the site, 0 seen gone once" in info.stdout, info.stdout
    assert "bad lines:    2" in info.stdout and "removals.jsonl:3: not an event" in info.stdout, info.stdout


def test_a_bad_removal_setting_is_one_line(site_server: MockServer, tmp_path: Path) -> None:
    for setting, message in (
            ("NEWSSPIDER_REMOVED_CONFIRM=soon", "NEWSSPIDER_REMOVED_CONFIRM: not a duration"),
            ("NEWSSPIDER_REMOVED_MAX_SHARE=2", "NEWSSPIDER_REMOVED_MAX_SHARE: not a share")):
        result = crawl(site_server, tmp_path, "--refresh", "-s", setting)
        assert result.returncode == 1 and result.stderr.startswith(f"Error: {message}"), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and not site_server.requests()


def test_the_demo_sites_removal_controls_refuse_bad_values_in_one_line() -> None:
    from urllib.error import HTTPError
    from urllib.request import Request, urlopen

    from newsspider.demo.server import serve_in_thread

    server = serve_in_thread()
    try:
        def post(path: str) -> tuple[int, str]:
            try:
                with urlopen(Request(server.root + path, method="POST"), timeout=10) as response:
                    return response.status, response.read().decode()
            except HTTPError as exc:
                return exc.code, exc.read().decode()

        assert post(f"/__remove__?id={GONE_410}&how=gone") == (400, "how: one of 404, 410, home\n")
        assert post("/__remove__?id=1&how=410") == (404, "no article 1 on this site\n")
        assert post("/__gone__?all=2") == (400, "all: 1 (every article page answers 404) or 0\n")
        article = server.site.articles[GONE_410]
        assert post(f"/__remove__?id={GONE_410}&how=410")[0] == 200
        assert server.site.get(article.path).status == 410
        assert post(f"/__restore__?id={GONE_410}")[0] == 200 and server.site.get(article.path).status == 200
        assert post("/__gone__?all=1")[0] == 200 and server.site.get(article.path).status == 404
    finally:
        server.shutdown()
