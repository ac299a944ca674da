"""``python -m local_stack.cutover``."""

import sys

from local_stack.cutover.cli import main

sys.exit(main())
