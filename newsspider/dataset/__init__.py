"""The dataset: the files, read back and written (no Scrapy import).

- :mod:`~newsspider.dataset.layout`: what a data dir holds, by name;
- :mod:`~newsspider.dataset.reader`: the records read back: ``load``, ``iter_articles``,
  ``to_pandas``, the shards and their lines — re-exported here;
- :mod:`~newsspider.dataset.storage`: appending whole lines; the data dir and its lock;
- :mod:`~newsspider.dataset.export`: Parquet, spreadsheets, JSONL, the link graph;
- :mod:`~newsspider.dataset.diff`: what changed between two versions of an article.

What is made from the dataset (the run history, the report, search and browsing) is in
:mod:`newsspider.views`.
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
