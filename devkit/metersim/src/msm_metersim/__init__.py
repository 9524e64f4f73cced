"""Smart-meter simulator."""
