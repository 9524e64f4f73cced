"""Keys, tokens, passwords and login throttling."""
