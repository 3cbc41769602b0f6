"""Test support for suites and benchmarks that run the key service as it is deployed."""
