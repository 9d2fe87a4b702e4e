from __future__ import annotations

from omnitrail.cli import main

main()
