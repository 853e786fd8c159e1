"""Passwords, tokens and the dependencies that turn a bearer token into a user of one app."""
