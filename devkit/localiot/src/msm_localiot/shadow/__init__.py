"""Device Shadow: the pure rules (`engine`), their persistence (`store`) and the use cases
(`service`) that the MQTT and HTTP sides call."""
