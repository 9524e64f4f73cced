"""The local stand-in's per-claim-client provisioning topics (msm_common.topics)."""

from __future__ import annotations

import pytest
from msm_common import topics
from msm_common.contracts.errors import TopicError

CLIENT = "provision-0f1e2d3c"


def test_a_claim_client_gets_the_aws_topic_under_its_own_client_id() -> None:
    scoped = topics.claim_scoped(CLIENT, topics.create_certificate("accepted"))
    assert scoped == f"msm-local/claim/{CLIENT}/$aws/certificates/create/json/accepted"
    assert topics.split_claim_scoped(scoped) == (CLIENT, "$aws/certificates/create/json/accepted")
    assert topics.matches(topics.claim_scope_filter(topics.create_certificate("accepted")), scoped)


@pytest.mark.parametrize("client_id", ["claim-1", "provision-", "provision-a/b", "provision-+", ""])
def test_only_provision_client_ids_have_a_scope(client_id: str) -> None:
    with pytest.raises(TopicError):
        topics.claim_scoped(client_id, topics.create_certificate())
    # A "/" in a client id cannot reach another client's replies: the level after the id
    # would have to be `$aws`, which localiot never answers on for that id.
    found = topics.split_claim_scoped(f"msm-local/claim/{client_id}/$aws/x")
    assert found is None or found == ("provision-a", "b/$aws/x")


@pytest.mark.parametrize(
    "topic",
    ["$aws/certificates/create/json", "msm-local/claim/", "x/msm-local/claim/provision-1/a", ""],
)
def test_other_topics_are_not_claim_scoped(topic: str) -> None:
    assert topics.split_claim_scoped(topic) is None
