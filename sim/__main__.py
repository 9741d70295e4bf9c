"""``python -m sim``: the ``factory5g`` command line."""

from sim.cli import main

raise SystemExit(main())
