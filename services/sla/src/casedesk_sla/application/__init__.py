"""SLA use cases: apply consumed case events and the passing of time, store the outcome; replay."""
