"""The case service's adapters: event store, case index, outbox relay, log followers, roster."""
