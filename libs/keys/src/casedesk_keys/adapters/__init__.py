"""Key-encryption key providers (PKCS#11, a Kubernetes Secret's files) and key stores (SQLite,
PostgreSQL): the only modules that know an HSM or a database."""
