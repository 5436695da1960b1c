"""``python -m tests.lazy_differential``: see :func:`tests.lazy_differential.driver.main`."""

import sys

from tests.lazy_differential.driver import main

raise SystemExit(main(sys.argv[1:]))
