"""An archived image made to fit the offline edition's size cap, or left out.

A raster image (JPEG, PNG, GIF, WebP, …) that Pillow reads is kept as it
is when it already fits in the cap and is a format every Kiwix reader shows,
else made a JPEG (its first frame; transparency on white), its longest side
at most :data:`MAX_SIDE` pixels, at the best quality that fits, smaller
until it fits.  An SVG image is kept as it is when it fits and holds drawing
only (:func:`safe_svg`: no script, no event handler, no link out, no
entity); it is not rasterised.  Anything else is left out (``None``).
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from typing import Any

__all__ = ["MAX_SIDE", "fit_image", "safe_svg"]

#: the longest side (pixels) of an image this module makes: wider than a phone's screen
MAX_SIDE = 1280
#: the smallest side it shrinks an image to before giving up
MIN_SIDE = 96
#: images of more pixels are not decoded (a decompression bomb)
MAX_PIXELS = 50_000_000
#: the JPEG qualities tried, best first
QUALITIES = (85, 75, 65, 50, 40)
#: formats kept as they are when they fit
KEPT = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}

_SVG = "{http://www.w3.org/2000/svg}"
#: the SVG elements an image may hold: shapes, text, gradients, groups
SVG_ELEMENTS = frozenset({
    "svg", "g", "defs", "title", "desc", "rect", "circle", "ellipse", "line", "polyline", "polygon", "path",
    "text", "tspan", "linearGradient", "radialGradient", "stop", "clipPath", "mask", "symbol", "use",
    "pattern", "metadata",
})
_BAD_VALUE = re.compile(r"javascript:|data:|url\(\s*['\"]?(?!#)|expression\(|@import", re.IGNORECASE)


def safe_svg(data: bytes) -> bool:
    """Whether an SVG image holds drawing only: SVG elements of :data:`SVG_ELEMENTS`, no ``on…``
    attribute, no link but to itself (``#id``), no DOCTYPE or entity, nothing that loads or runs.

    >>> safe_svg('<svg xmlns="http://www.w3.org/2000/svg"><rect width="6"/><text>演示</text></svg>'.encode())
    True
    >>> safe_svg(b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>')
    False
    >>> safe_svg(b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    False
    >>> safe_svg(b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:x="http://www.w3.org/1999/xlink">'
    ...          b'<use x:href="https://evil.example/a.svg#x"/></svg>')
    False
    >>> safe_svg(b'<!DOCTYPE svg [<!ENTITY a "b">]><svg xmlns="http://www.w3.org/2000/svg"/>')
    False
    >>> safe_svg(b'<svg xmlns="http://www.w3.org/2000/svg"><rect style="fill:url(http://x/)"/></svg>')
    False
    >>> safe_svg(b"not xml"), safe_svg(b"<html/>")
    (False, False)
    """
    if re.search(rb"<!DOCTYPE|<!ENTITY|<\?xml-stylesheet", data, re.IGNORECASE):
        return False
    try:
        root = ET.fromstring(data)
    except (ET.ParseError, ValueError):
        return False
    if root.tag != f"{_SVG}svg":
        return False
    for element in root.iter():
        if not isinstance(element.tag, str) or not element.tag.startswith(_SVG):
            return False
        if element.tag[len(_SVG):] not in SVG_ELEMENTS:
            return False
        for name, value in element.attrib.items():
            local = name.rsplit("}", 1)[-1].lower()
            if local.startswith("on") or _BAD_VALUE.search(value):
                return False
            if local == "href" and not value.startswith("#"):
                return False
    return True


def _encode(image: Any, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
    return out.getvalue()


def _flat(image: Any) -> Any:
    """The image in RGB: its first frame, transparency on white."""
    from PIL import Image

    image.seek(0)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    return image.convert("RGB")


def fit_image(data: bytes, content_type: str | None, max_bytes: int) -> tuple[bytes, str] | None:
    """*data* (an archived image served as *content_type*) as (bytes, MIME type) of at most
    *max_bytes*, or ``None`` when it is not an image this module reads or cannot be made to fit.

    >>> from PIL import Image
    >>> big = io.BytesIO(); Image.effect_noise((2000, 1500), 60).convert("RGB").save(big, "PNG")
    >>> data, mime = fit_image(big.getvalue(), "image/png", 100 * 1024)
    >>> mime, len(data) <= 100 * 1024, max(Image.open(io.BytesIO(data)).size) <= MAX_SIDE
    ('image/jpeg', True, True)
    >>> small = io.BytesIO(); Image.new("RGB", (10, 10)).save(small, "PNG")
    >>> fit_image(small.getvalue(), "image/png", 1024) == (small.getvalue(), "image/png")
    True
    >>> fit_image(b"<html>not an image</html>", "text/html", 1024) is None
    True
    >>> fit_image(big.getvalue(), "image/png", 200) is None  # cannot be made that small
    True
    """
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == "image/svg+xml" or (not kind.startswith("image/") and data.lstrip()[:4] in (b"<svg", b"<?xm")):
        return (data, "image/svg+xml") if len(data) <= max_bytes and safe_svg(data) else None
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        if width * height > MAX_PIXELS or not width or not height:
            return None
        if len(data) <= max_bytes and image.format in KEPT:
            image.load()  # it decodes: not a broken file
            return data, KEPT[image.format]
        flat = _flat(image)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, EOFError):
        return None
    side = min(MAX_SIDE, max(flat.size))
    while side >= MIN_SIDE:
        scaled = flat.copy()
        scaled.thumbnail((side, side))
        for quality in QUALITIES:
            encoded = _encode(scaled, quality)
            if len(encoded) <= max_bytes:
                return encoded, "image/jpeg"
        side = side * 2 // 3
    return None
