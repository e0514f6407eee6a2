"""The credit-line rules as newsspider had them before the site's later forms were known, to crawl an
archive "before the change": ``python -m tests.credit_rules_before crawl …`` runs the real command with
them in place of :mod:`newsspider.extract.site`'s.

They missed the author followed directly by the source (``作者：X来源：Y``), WeChat reprints
(``Original 公众号 …``) and the 2025 ending (``站长动态，转发分享↓Follow Us 责任编辑：X``).
"""

from __future__ import annotations

import re
import sys

from newsspider.extract import site
from newsspider.extract.processors import clean_text

_LABEL = r"\s*[：:]\s*"
_FIELD_END = r"(?:[，,；;。|｜（(）)]|\s+(?:作者|来源|來源)|\s*$)"
_AUTHOR = re.compile(rf"(?:作者|撰文){_LABEL}(?P<v>.+?)(?={_FIELD_END})")
_SOURCE = re.compile(rf"(?:来源|來源|转载自|转自){_LABEL}(?P<v>.+?)(?={_FIELD_END})")
_DISCLAIMER = re.compile(r"(?:并|並)?不代表本(?:网|網)立场|文章转自网络|文章轉自網絡")
_EDITOR = re.compile(
    rf"^[（(【\[]?\s*(?:责任编辑|責任編輯|编辑|編輯){_LABEL}(?P<v>[^）)】\]]+?)\s*[）)】\]]?$")


def parse_credit_line(text: str | None) -> dict[str, str | None] | None:
    text = clean_text(text)
    if not text:
        return None
    author = _AUTHOR.match(text) or _AUTHOR.search(text[:60])
    source = _SOURCE.match(text) or _SOURCE.search(text[:60])
    if not (re.match(rf"(?:作者|来源|來源|撰文){_LABEL}", text) or _DISCLAIMER.search(text)):
        return None
    return {"author": clean_text(author["v"]) if author else None,
            "source": clean_text(source["v"]) if source else None}


def parse_editor_line(text: str | None) -> str | None:
    match = _EDITOR.match(clean_text(text))
    return clean_text(match["v"]) or None if match else None


if __name__ == "__main__":  # (only then: pytest imports this module too, for its doctests)
    site.parse_credit_line = parse_credit_line
    site.parse_editor_line = parse_editor_line
    site.is_share_block = lambda text: False
    from newsspider.cli import main

    main(sys.argv[1:])
