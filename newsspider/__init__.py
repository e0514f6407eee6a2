"""newsspider: archive bannedbook.org (禁闻网) into a clean, deduplicated JSON Lines dataset."""

__version__ = "0.1.0"
