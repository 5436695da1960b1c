"""Root conftest: makes the pytester fixture available to the project's meta-tests.

``pytest_plugins`` may only be declared in the root conftest, which is why this file
exists; everything else lives in the plugin (conformance/plugin.py) or in the suites'
own conftest files.
"""

pytest_plugins = ["pytester"]
