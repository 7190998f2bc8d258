"""ctstation: LXC and Docker containers behind one REST API, over RabbitMQ."""
