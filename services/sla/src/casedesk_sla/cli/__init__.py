"""Command-line tools of the SLA service other than the service itself."""
