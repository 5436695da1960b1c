"""torch-conformance: conformance suites for PyTorch backends.

Run ``pytest --pyargs conformance --backend=NAME``; see README.md and
conformance/writing-a-backend.md. Importing this package is cheap (no torch).
"""

__version__ = "0.1.0"
