"""Monitoring recurring crawls: each run's quality, Spidermon monitors that judge it, notifications.

- :mod:`~newsspider.monitoring.quality`: what share of a run's stored records has each field, and
  how the fetching went (kept in the run history);
- :mod:`~newsspider.monitoring.monitors`: the Spidermon suite run when a crawl ends (field coverage
  against earlier runs, nothing stored, failure and ban rates, runs that never finished);
- :mod:`~newsspider.monitoring.actions`: what happens when a check fails (the run is recorded as
  ``degraded``; a webhook, Slack and e-mail are told).
"""

from newsspider.core.errors import DEGRADED_EXIT  # its old home: benchmarks and scripts import it

__all__ = ["DEGRADED_EXIT"]
