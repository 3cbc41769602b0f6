"""Use cases of the escalation service: decide a consumed batch and commit it, then send the
committed Escalate commands and publish the committed journal. The only callers of the store."""
