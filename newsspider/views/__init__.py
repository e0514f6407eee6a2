"""What is made from the dataset and the run history: the runs table (:mod:`~newsspider.views.runs`),
the HTML report and its charts (:mod:`~newsspider.views.report`, :mod:`~newsspider.views.charts`), and
the searchable archive (:mod:`~newsspider.views.search`: SQLite, Chinese full-text search, Datasette)."""
