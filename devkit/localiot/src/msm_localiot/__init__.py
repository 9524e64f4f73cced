"""Local AWS IoT Core stand-in: device shadow, fleet provisioning, presence."""
