"""The desk's ends of the outside: the case service over mutual TLS, the identity provider."""
