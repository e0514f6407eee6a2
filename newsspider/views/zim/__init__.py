"""The offline edition: the dataset as one ZIM file that Kiwix opens and searches with no network
(``newsspider dataset export DIR --format zim``).

:mod:`~newsspider.views.zim.writer` writes the file (pages rendered with the reading room's base
template and CSS, the archive's images, the Chinese full-text and title indexes, the metadata);
:mod:`~newsspider.views.zim.images` makes an archived image fit the size cap.  This module imports
neither libzim nor Pillow: the command line reads :data:`FORMATS` from it when it starts.
"""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_IMAGE_KB", "FORMATS"]

#: the formats this package writes, added to ``dataset export --format``'s (the command dispatches them here)
FORMATS = ("zim",)
#: an image's size cap in the file (KB) unless ``--max-image-kb`` says otherwise: a news photo at
#: phone-screen width as a JPEG of middling quality fits in it
DEFAULT_MAX_IMAGE_KB = 100
