"""MSM ingest: AWS IoT MQTT to MongoDB, RabbitMQ events and device shadows."""
