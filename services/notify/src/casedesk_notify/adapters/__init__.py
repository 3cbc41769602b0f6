"""What notify talks to: Kafka, SQLite, SMTP, the SMS gateway, templates, the deadline library."""
