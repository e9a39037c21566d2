"""``python -m melodygan`` runs the command line."""

import sys

from melodygan.cli import main

sys.exit(main())
