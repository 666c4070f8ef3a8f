"""`python -m streamvane` runs the command-line interface."""

from streamvane.cli import main

raise SystemExit(main())
