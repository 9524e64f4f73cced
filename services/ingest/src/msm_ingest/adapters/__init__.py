"""Adapters: message sources (MQTT, SQS), the Mongo store, the event publisher, the shadow."""
