"""Adapters that hand a rendered message to a provider: SMTP for e-mail, an HTTP gateway for SMS."""
