"""``python -m newsspider`` is the ``newsspider`` command."""

from newsspider.cli import main

main()
