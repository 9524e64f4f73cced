"""Smart-meter simulator: one to thousands of virtual meters speaking MSM's MQTT contract."""

from msm_metersim.fleet import Fleet, FleetOptions
from msm_metersim.journal import ReceivedCommand, SentAck
from msm_metersim.meter import Meter, MeterSpec
from msm_metersim.payloads import registered_device
from msm_metersim.policy import AckPolicy
from msm_metersim.settings import MetersimSettings

__all__ = [
    "AckPolicy",
    "Fleet",
    "FleetOptions",
    "Meter",
    "MeterSpec",
    "MetersimSettings",
    "ReceivedCommand",
    "SentAck",
    "registered_device",
]
