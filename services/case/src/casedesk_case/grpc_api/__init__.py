"""gRPC transport of the case service: request decoding, the servicer, error mapping."""
