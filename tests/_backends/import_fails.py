"""A plugin module whose import fails, as a plugin with a missing dependency does."""

import not_an_installed_module_xyz  # noqa: F401  (the failing import is the point)

backend = None
