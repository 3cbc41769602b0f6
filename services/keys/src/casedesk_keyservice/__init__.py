"""The key service (issue #18): the one process that owns citizens' data keys.

It alone holds the keyring (the store of wrapped keys and the key-encryption key, casedesk_keys),
hands keys to the services allowed to have them over mutual TLS, erases citizens for a privacy
officer or a retention job, journals every erasure and announces it on a stream so each
service's key cache forgets the key within seconds. See README.md.

`casedesk_keyservice.client` is what other services import: a KeySource over gRPC and the
follower of the erasure stream, for the library's KeyCache.
"""
