"""The api's adapters: the command publisher, the role table."""
