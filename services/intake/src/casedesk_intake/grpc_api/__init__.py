"""IntakeService over gRPC: servicers that decode, make one use-case call, encode."""
