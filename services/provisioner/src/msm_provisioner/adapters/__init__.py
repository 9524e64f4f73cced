"""The provisioner's adapters: MongoDB, the AWS IoT registry, RabbitMQ, MQTT, JWKS."""
