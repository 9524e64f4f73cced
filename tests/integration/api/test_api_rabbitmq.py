"""A command request really lands on the commander's queue."""

from __future__ import annotations

import pika
import pytest
from api_helpers import AuthActions, add_device
from msm_api.adapters.publisher import AmqpCommandPublisher
from msm_common.adapters import amqp_topology
from msm_common.contracts.command_request import CommandRequest

pytestmark = pytest.mark.integration


def test_command_request_is_on_the_queue(make_app, amqp_url, mongo_db):
    publisher = AmqpCommandPublisher(amqp_url, timeout_s=10)
    app = make_app(publisher=publisher)
    client = app.test_client()
    auth = AuthActions(app, client)
    add_device(mongo_db, "dev-rmq")
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = conn.channel()
        resp = client.post(
            "/api/devices/dev-rmq/ntp",
            json={"server_1": "pool.ntp.org"},
            headers=auth.headers("operator"),
        )
        assert resp.status_code == 202, resp.get_json()
        command_id = resp.get_json()["command_id"]
        method, props, body = channel.basic_get(amqp_topology.COMMAND_REQUESTS_QUEUE, auto_ack=True)
        assert method is not None, "no command request on the queue"
        request = CommandRequest.from_json(body)
        assert request.command_id == command_id == props.message_id
        assert request.type.value == "ntp" and request.params == {"server_1": "pool.ntp.org"}
        assert props.delivery_mode == 2
        assert client.get("/readyz").get_json()["checks"]["rabbitmq"] is True
    finally:
        conn.close()
