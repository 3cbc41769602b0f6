"""Empty on purpose: the desk serves no gRPC. Its transport is HTTP, in `casedesk_desk.web`."""
