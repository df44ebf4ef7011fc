"""infra/log_delivery.py: who may write an ALB's access logs, in each region."""

from __future__ import annotations

from infra.log_delivery import LOG_DELIVERY_SERVICE, log_writers


def test_every_region_grants_the_log_delivery_service_and_old_regions_their_elb_account() -> None:
    assert log_writers("eu-west-1") == {
        "Service": LOG_DELIVERY_SERVICE,
        "AWS": "arn:aws:iam::156460612806:root",
    }
    assert log_writers("il-central-1") == {"Service": LOG_DELIVERY_SERVICE}
