"""The test bed's pod history: when a deletion was asked, from what Kubernetes stores."""

from tests.testbed.plays import deletion_asked


def test_deletion_asked_is_the_deadline_less_the_grace_period():
    # A pod deleted at 10:00:00 with 30 s of grace carries deletionTimestamp 10:00:30 (its deadline).
    assert deletion_asked({"deletionTimestamp": "2026-12-03T10:00:30Z", "deletionGracePeriodSeconds": 30}) == \
        "2026-12-03T10:00:00Z"
    assert deletion_asked({"deletionTimestamp": "2026-12-03T10:00:30Z", "deletionGracePeriodSeconds": 0}) == \
        "2026-12-03T10:00:30Z"
