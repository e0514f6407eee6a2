"""newsspider's benchmarks: run with ``python -m benchmarks.run`` (see benchmarks/RESULTS.md)."""
