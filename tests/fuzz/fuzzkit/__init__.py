"""Support for the fuzz targets of tests/fuzz: strategies, the servers, calls, the tally."""
