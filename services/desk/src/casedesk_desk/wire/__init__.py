"""Between the case service's protobuf messages and the desk's own values."""
