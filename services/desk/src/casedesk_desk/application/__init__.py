"""Use cases of the desk: signing in and out, and working cases for the signed-in specialist."""
