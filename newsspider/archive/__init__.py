"""The web archive: every page the crawl fetches, kept as it was served, in WARC files.

:mod:`.warcfile` writes WARC/1.1 records (gzip per record, with warcio) into
``<data dir>/warc/``; :mod:`.capture` is the Scrapy side (a downloader
middleware that archives each response, a spider middleware that gives each
article record its pointer into the archive); :mod:`.reader` reads an
archived page back.
"""
