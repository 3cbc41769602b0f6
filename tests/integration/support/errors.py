"""The one failure the fixtures report: infrastructure a test needs could not be provided."""


class InfrastructureError(RuntimeError):
    """Kafka, PostgreSQL or the Docker engine could not be started or did not become ready."""
