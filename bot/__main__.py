"""`python -m bot` → the hookbot command line."""

from bot.cli import main

raise SystemExit(main())
