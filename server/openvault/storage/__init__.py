"""Persistence: peewee models, the connection lifecycle and queries."""
