"""``python -m newsmill_ingest`` is the ``newsmill`` command."""

from newsmill_ingest.cli import main

main()
