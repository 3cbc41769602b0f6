"""The desk's own rules, standard library and the shared vocabulary only: sessions, CSRF, PKCE,
the queue's deadline order and the Russian words of the workspace."""
