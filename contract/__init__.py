"""The contract every ctstation service imports: events, schemas, queue topology.

Nothing here talks to RabbitMQ or SQL; the messaging helpers take a kombu connection
from the caller.
"""
