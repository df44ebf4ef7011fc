"""The policy pack over every resource the program declares, for each stack, with the stack's policy
config (`policy/config/<stack>.json`, what the workflows pass as `--policy-pack-config`)."""

from __future__ import annotations

import json
from pathlib import Path

from infra.config import PROJECT
from offline.stack import stack_config
from policies import RESOURCE_CHECKS
from tests.conftest import Harness, Resource
from tests.policy.support import Declared, resource_violations, stack_violations

CONFIG = Path(__file__).resolve().parents[2] / "policy" / "config"


def declared(resources: list[Resource]) -> list[Declared]:
    """The recorded resources, each input property linked to the resources whose ids it carries (what
    the engine's property dependencies tell the policy pack during a real preview)."""
    by_id: dict[str, list[str]] = {}
    for resource in resources:
        by_id.setdefault(resource.id, []).append(resource.name)
    return [
        Declared(
            type=resource.typ,
            name=resource.name,
            props=resource.inputs,
            state=resource.state,
            depends_on={
                key: [name for value in values if isinstance(value, str) for name in by_id.get(value, [])]
                for key, values in (
                    (key, value if isinstance(value, list) else [value])
                    for key, value in resource.inputs.items()
                )
                if any(isinstance(value, str) and value in by_id for value in values)
            },
        )
        for resource in resources
    ]


def advisory(stack: str) -> set[str]:
    """The policies the stack's policy config downgrades from mandatory to advisory."""
    config = json.loads((CONFIG / f"{stack}.json").read_text())
    assert set(config) <= set(RESOURCE_CHECKS), "the config names a policy the pack does not have"
    return {name for name, level in config.items() if level == "advisory"}


def violations(
    harness: Harness, stack: str, config: dict[str, str] | None = None
) -> tuple[list[Declared], list[tuple[str, str, str]]]:
    harness.use(stack, config)
    resources = declared(harness.evaluate(harness.run_program).resources)
    found = [
        (r.name, policy, message) for r in resources for policy, message in resource_violations(r, stack)
    ]
    found += [(urn, policy, message) for policy, urn, message in stack_violations(resources, stack)]
    return resources, found


def test_prod_violates_no_policy_and_downgrades_none(harness: Harness) -> None:
    resources, found = violations(harness, "prod")
    assert found == []
    assert advisory("prod") == set()
    # The pack has something to check: every guarded kind of resource is declared.
    types = {r.type for r in resources}
    for guarded in (
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:lb/listener:Listener",
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:ecr/repository:Repository",
        "aws:autoscaling/group:Group",
        "aws:autoscaling/policy:Policy",
        "aws:s3/bucket:Bucket",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    ):
        assert guarded in types


def test_prod_with_spot_violates_no_policy(harness: Harness) -> None:
    resources, found = violations(harness, "prod", {**stack_config("prod"), f"{PROJECT}:spot": "true"})
    assert found == []
    (group,) = (r for r in resources if r.type == "aws:autoscaling/group:Group")
    assert group.props["mixedInstancesPolicy"]["instancesDistribution"]["onDemandBaseCapacity"] == 2


def test_dev_only_trips_the_plain_http_listener_it_declares_advisory(harness: Harness) -> None:
    # dev has no domain, so no certificate: its ALB serves plain HTTP (the preview warns why). The
    # listener policy still fires there, and dev's policy config makes it advisory, not mandatory.
    _, found = violations(harness, "dev")
    assert [(name, policy) for name, policy, _ in found] == [("web-http", "alb-listeners-https")]
    assert advisory("dev") == {"alb-listeners-https"}


def test_prod_on_graviton_violates_no_policy(harness: Harness) -> None:
    # The program builds the images and runs the release function for the nodes' architecture.
    graviton = {f"{PROJECT}:architecture": "arm64", f"{PROJECT}:instanceType": "t4g.small"}
    config = {**stack_config("prod"), **graviton}
    resources, found = violations(harness, "prod", config)
    assert found == []
    platforms = {r.props["build"]["platform"] for r in resources if r.type == "docker:index/image:Image"}
    assert platforms == {"linux/arm64"}
