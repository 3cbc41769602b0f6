"""Citizens' data keys (issue #18): see README.md."""
