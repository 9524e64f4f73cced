"""Adapters to the outside world: MongoDB, RabbitMQ, MQTT. Nothing here connects at import."""
