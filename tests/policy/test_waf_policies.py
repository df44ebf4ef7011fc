"""alb-web-acl-in-production: every internet-facing ALB in prod has a web ACL associated. It fires on an
unguarded ALB with a message saying how to fix it, and stays quiet where it should."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policy.support import Declared, stack_violations

ALB = "aws:lb/loadBalancer:LoadBalancer"
ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web-alb-1a2b3c4/0123456789abcdef"
ACL = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/flask-nginx-aws-prod/0123"


def alb(**props: Any) -> Declared:
    return Declared(ALB, "web-alb", {"loadBalancerType": "application", **props}, state={"arn": ARN, **props})


def association(*, linked: bool) -> Declared:
    return Declared(
        ASSOCIATION,
        "firewall-alb",
        {"resourceArn": ARN, "webAclArn": ACL},
        depends_on={"resourceArn": ["web-alb"]} if linked else {},
    )


def waf_violations(resources: list[Declared], stack: str = "prod") -> list[tuple[str, str]]:
    return [
        (urn, message)
        for policy, urn, message in stack_violations(resources, stack)
        if policy == "alb-web-acl-in-production"
    ]


def test_an_unguarded_internet_facing_alb_in_prod_is_reported() -> None:
    ((urn, message),) = waf_violations([alb(internal=False)])
    assert urn.endswith("::web-alb")
    assert "no web ACL" in message
    assert "aws.wafv2.WebAclAssociation" in message


@pytest.mark.parametrize("linked", [True, False], ids=["by-dependency", "by-arn"])
def test_an_alb_with_a_web_acl_passes(linked: bool) -> None:
    assert waf_violations([alb(), association(linked=linked)]) == []


def test_a_first_preview_knows_the_association_by_its_dependency_alone() -> None:
    # Before the ALB exists, neither side has an ARN: only the dependency links them.
    unknown = Declared(ALB, "web-alb", {"loadBalancerType": "application"})
    linked = Declared(ASSOCIATION, "firewall-alb", {}, depends_on={"resourceArn": ["web-alb"]})
    assert waf_violations([unknown, linked]) == []
    assert len(waf_violations([unknown])) == 1


@pytest.mark.parametrize(
    ("resource", "stack"),
    [
        pytest.param(alb(), "dev", id="dev"),
        pytest.param(alb(internal=True), "prod", id="internal"),
        pytest.param(alb(loadBalancerType="network"), "prod", id="network-load-balancer"),
    ],
)
def test_dev_internal_albs_and_network_load_balancers_need_none(resource: Declared, stack: str) -> None:
    assert waf_violations([resource], stack) == []
