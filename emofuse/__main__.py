"""``python -m emofuse``: the ``emofuse`` command (see :mod:`emofuse.cli`)."""

from emofuse.cli import main

raise SystemExit(main())
