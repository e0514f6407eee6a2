"""Extraction: everything specific to the site and how a page becomes a record.

- :mod:`~newsspider.extract.site`: the site's URL shapes and CSS selectors (the only place they live);
- :mod:`~newsspider.extract.processors`: pure text, URL and date functions;
- :mod:`~newsspider.extract.items`: the Article record and its published schema;
- :mod:`~newsspider.extract.loaders`: the item loader fed by the site's selectors; listing pages.

Nothing here imports the rest of newsspider.
"""
