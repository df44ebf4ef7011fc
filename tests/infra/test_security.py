"""infra/security.py: the internet reaches the ALB, only the ALB reaches nginx, no SSH anywhere."""

from __future__ import annotations

import pulumi
import pytest

from infra.config import NGINX_HTTPS_PORT
from infra.security import Security, SecurityArgs
from tests.conftest import Harness, Resource

INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"


@pytest.fixture
def groups(harness: Harness) -> dict[str, str]:
    """Builds the component; returns the two groups' ids by role."""
    ids: dict[str, str] = {}

    def program() -> pulumi.Output[None]:
        security = Security("security", SecurityArgs(vpc_id="vpc-0123456789abcdef0", stack="prod"))
        return pulumi.Output.all(security.alb_security_group.id, security.instance_security_group.id).apply(
            lambda values: ids.update(alb=values[0], instance=values[1])
        )

    harness.evaluate(program)
    return ids


def rules(harness: Harness, typ: str, group_id: str) -> list[Resource]:
    return [r for r in harness.mocks.of_type(typ) if r.inputs["securityGroupId"] == group_id]


def test_alb_admits_http_and_https_from_the_internet_only(harness: Harness, groups: dict[str, str]) -> None:
    ingress = rules(harness, INGRESS, groups["alb"])
    assert sorted((r.inputs["fromPort"], r.inputs["toPort"], r.inputs["cidrIpv4"]) for r in ingress) == [
        (80, 80, "0.0.0.0/0"),
        (443, 443, "0.0.0.0/0"),
    ]


def test_instances_admit_only_the_alb_group_on_nginx_port(harness: Harness, groups: dict[str, str]) -> None:
    (rule,) = rules(harness, INGRESS, groups["instance"])
    assert rule.inputs["referencedSecurityGroupId"] == groups["alb"]
    assert (rule.inputs["fromPort"], rule.inputs["toPort"]) == (NGINX_HTTPS_PORT, NGINX_HTTPS_PORT)
    assert "cidrIpv4" not in rule.inputs


def test_alb_egress_reaches_only_the_instances(harness: Harness, groups: dict[str, str]) -> None:
    (rule,) = rules(harness, EGRESS, groups["alb"])
    assert rule.inputs["referencedSecurityGroupId"] == groups["instance"]
    assert (rule.inputs["fromPort"], rule.inputs["toPort"]) == (NGINX_HTTPS_PORT, NGINX_HTTPS_PORT)


def test_instance_egress_is_https_only(harness: Harness, groups: dict[str, str]) -> None:
    (rule,) = rules(harness, EGRESS, groups["instance"])
    assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == ("tcp", 443, 443)


def test_no_rule_opens_ssh_or_all_ports(harness: Harness, groups: dict[str, str]) -> None:
    every = harness.mocks.of_type(INGRESS) + harness.mocks.of_type(EGRESS)
    assert len(every) == 5
    for rule in every:
        assert rule.inputs["ipProtocol"] == "tcp"
        assert not rule.inputs["fromPort"] <= 22 <= rule.inputs["toPort"]
    for group in harness.mocks.of_type("aws:ec2/securityGroup:SecurityGroup"):
        assert "ingress" not in group.inputs
        assert group.inputs["vpcId"] == "vpc-0123456789abcdef0"
