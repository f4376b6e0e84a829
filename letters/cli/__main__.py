"""``python -m letters.cli``: the ``letters`` command without the installed script."""

import sys

from letters.cli import main

sys.exit(main())
