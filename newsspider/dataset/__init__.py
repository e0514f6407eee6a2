"""The dataset: reading it back, writing it, and what is made from it.

- :mod:`~newsspider.dataset.reader`: the records read back (no Scrapy import): ``load``,
  ``iter_articles``, ``to_pandas``, the shards and their lines — re-exported here;
- :mod:`~newsspider.dataset.storage`: appending whole lines; the data dir and its lock;
- :mod:`~newsspider.dataset.export`: Parquet, spreadsheets, JSONL, the link graph;
- :mod:`~newsspider.dataset.report`, :mod:`~newsspider.dataset.charts`, :mod:`~newsspider.dataset.runs`:
  the dataset's and the run history's summaries;
- :mod:`~newsspider.dataset.diff`: what changed between two versions of an article;
- :mod:`~newsspider.dataset.search`: the SQLite database, Chinese full-text search, Datasette.
"""

from newsspider.dataset.reader import (
    BadLine,
    DatasetError,
    SchemaVersionError,
    ShardLine,
    check_record,
    display_path,
    iter_articles,
    iter_records,
    iter_shard,
    load,
    shard_lines,
    shard_paths,
    to_pandas,
)

__all__ = [
    "BadLine",
    "DatasetError",
    "SchemaVersionError",
    "ShardLine",
    "check_record",
    "display_path",
    "iter_articles",
    "iter_records",
    "iter_shard",
    "load",
    "shard_lines",
    "shard_paths",
    "to_pandas",
]
