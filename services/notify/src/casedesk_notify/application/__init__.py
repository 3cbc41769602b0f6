"""Notify's use cases: plan the deliveries a batch of case events causes, commit them, send them.

Takes and returns domain values and deliveries; what it needs from the wire and the adapters is
described in `ports`. The only code that writes notify's state.
"""
