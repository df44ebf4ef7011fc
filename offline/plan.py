"""`PYTHONPATH=policy python -m offline.plan --stack prod` (`make plan`): the stack's resources as AWS (moto)
creates them, with no AWS account and no Pulumi CLI; the policy pack's module (policy/) checks what moto does
not model. Each resource with its type, logical name, id and key properties, grouped by
component, with counts; exits 1 with AWS's error when a resource is rejected."""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import moto

from offline.app_secrets import read_at_boot
from offline.moto_mocks import Created
from offline.stack import ROOT, Deployment, deploy

KEY_PROPERTIES: Mapping[str, tuple[str, ...]] = {
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:ec2/subnet:Subnet": ("availabilityZone", "cidrBlock"),
    "aws:ec2/routeTable:RouteTable": ("routes",),
    "aws:ec2/eip:Eip": ("publicIp",),
    "aws:ec2/natGateway:NatGateway": ("subnetId",),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("serviceName", "vpcEndpointType"),
    "aws:ec2/flowLog:FlowLog": ("trafficType", "logDestination"),
    "aws:ec2/securityGroup:SecurityGroup": ("description",),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "ipProtocol",
        "toPort",
        "cidrIpv4",
        "referencedSecurityGroupId",
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": (
        "ipProtocol",
        "toPort",
        "cidrIpv4",
        "referencedSecurityGroupId",
    ),
    "aws:ec2/launchTemplate:LaunchTemplate": ("imageId", "instanceType", "latestVersion"),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "retentionInDays"),
    "aws:iam/role:Role": ("name",),
    "aws:iam/rolePolicy:RolePolicy": ("role",),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("policyArn",),
    "aws:iam/instanceProfile:InstanceProfile": ("name",),
    "aws:ecr/repository:Repository": ("name", "imageTagMutability", "imageScanningConfiguration.scanOnPush"),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": ("repository",),
    "docker:index/image:Image": ("build.target", "build.platform"),
    "aws:lambda/function:Function": ("packageType", "timeout", "memorySize"),
    "aws:lambda/invocation:Invocation": ("functionName",),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": ("repository",),
    "aws:acm/certificate:Certificate": ("domainName", "validationMethod"),
    "aws:route53/record:Record": ("name", "type"),
    "aws:s3/bucket:Bucket": ("bucket",),
    "aws:lb/loadBalancer:LoadBalancer": ("dnsName", "idleTimeout", "enableDeletionProtection"),
    "aws:lb/targetGroup:TargetGroup": ("protocol", "port", "healthCheck.path"),
    "aws:lb/listener:Listener": ("protocol", "port", "sslPolicy", "defaultActions.0.type"),
    "aws:autoscaling/group:Group": (
        "minSize",
        "desiredCapacity",
        "maxSize",
        "defaultInstanceWarmup",
        "terminationPolicies",
        "capacityRebalance",
        "mixedInstancesPolicy.instancesDistribution.onDemandBaseCapacity",
        "mixedInstancesPolicy.instancesDistribution.spotAllocationStrategy",
    ),
    "pulumi-python:dynamic/rollout:Rollout": (
        "launch_template_version",
        "alarm_names",
        "checkpoint_percentages",
    ),
    "aws:autoscaling/policy:Policy": (
        "policyType",
        "targetTrackingConfiguration.predefinedMetricSpecification.predefinedMetricType",
        "targetTrackingConfiguration.predefinedMetricSpecification.resourceLabel",
        "targetTrackingConfiguration.targetValue",
    ),
    "aws:autoscaling/schedule:Schedule": ("recurrence", "timeZone", "minSize", "maxSize", "desiredCapacity"),
    "aws:sns/topic:Topic": ("name",),
    "aws:sns/topicSubscription:TopicSubscription": ("protocol", "endpoint"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("metricName", "comparisonOperator", "threshold"),
    "aws:rds/subnetGroup:SubnetGroup": ("name", "subnetIds"),
    "aws:rds/parameterGroup:ParameterGroup": ("family", "parameters"),
    "aws:rds/instance:Instance": (
        "address",
        "engineVersion",
        "instanceClass",
        "multiAz",
        "storageEncrypted",
        "publiclyAccessible",
        "deletionProtection",
        "masterUserSecrets.0.secretArn",
    ),
}
"""What the plan shows of each type, by dotted path into the resource's inputs and outputs."""


def _lookup(state: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(state, list) and part.isdigit() and int(part) < len(state):
            state = state[int(part)]
        elif isinstance(state, Mapping) and part in state:
            state = state[part]
        else:
            return None
    return state


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_text(v)}" for k, v in value.items() if v not in (None, "")) + "}"
    return str(value)


def properties(resource: Created) -> str:
    """The key properties of a created resource, `key=value` separated by spaces."""
    state = {**resource.inputs, **resource.outputs}
    shown = []
    for path in KEY_PROPERTIES.get(resource.typ, ()):
        value = _lookup(state, path)
        if value is not None:
            shown.append(f"{path.rsplit('.', 1)[-1]}={_text(value)}")
    return " ".join(shown)


def _section(title: str, lines: Sequence[str]) -> Iterator[str]:
    """A titled block of lines, or nothing when there are none."""
    if lines:
        yield ""
        yield title
        yield from lines


def _components(deployment: Deployment) -> Iterator[str]:
    """Each component (alphabetically) with its resources, then those declared outside any."""
    created = {(c.typ, c.name): c for c in deployment.mocks.created}
    registrations = deployment.monitor.registrations
    components = sorted((r for r in registrations if not r.custom), key=lambda r: r.name)
    urns = {c.urn for c in components}
    groups = [(c.name, c.typ, c.urn) for c in components]
    groups.append(("(stack)", "resources declared outside any component", ""))
    for name, typ, urn in groups:
        children = sorted(
            (
                created[(r.typ, r.name)]
                for r in registrations
                if r.custom and (r.parent == urn or (not urn and r.parent not in urns))
            ),
            key=lambda c: (c.typ, c.name),
        )
        if not children and not urn:
            continue
        yield ""
        yield f"{name}  ({typ}, {len(children)} resource{'' if len(children) == 1 else 's'})"
        for child in children:
            yield f"  + {child.name:<32} {child.typ}"
            yield f"      id {child.id}  {properties(child)}".rstrip()


def render(deployment: Deployment) -> Iterator[str]:
    """The plan's lines."""
    created = deployment.mocks.created
    yield f"Offline plan of stack {deployment.stack} in {deployment.region} (moto {moto.__version__})"
    yield "Each resource is created through the AWS API in moto, with no AWS account and no Pulumi CLI;"
    yield "ids, ARNs and DNS names are moto's."
    yield from _components(deployment)
    yield from _section("Outputs", [f"  {key} = {_text(value)}" for key, value in deployment.outputs.items()])
    yield from _section(
        "Stand-ins for what the config names as existing (moto chooses its own ids)",
        [f"  {s.key}: {s.named} -> {s.stand_in}" for s in deployment.stand_ins],
    )
    yield from _section(
        "Secrets the nodes read at boot (the user's: neither created nor read offline)",
        read_at_boot(created),
    )
    lookups = Counter(deployment.mocks.invoked)
    yield from _section("Lookups answered from moto", [f"  {n:>3}  {t}" for t, n in sorted(lookups.items())])
    yield from _section("Warnings", [f"  {warning}" for warning in deployment.warnings])
    yield from _section(
        "Not checked by moto",
        [f"  {c.typ} {c.name}: {key}: {reason}" for c in created for key, reason in c.unchecked.items()],
    )
    by_type = Counter(c.typ for c in created)
    yield from _section("Resources by type", [f"  {n:>3}  {t}" for t, n in sorted(by_type.items())])
    components = sum(not r.custom for r in deployment.monitor.registrations)
    yield f"{len(created)} resources in {components} components, each created in moto"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the plan of `--stack`; 1 (and the error) when the program or AWS refuses it."""
    parser = argparse.ArgumentParser(prog="python -m offline.plan", description=__doc__)
    parser.add_argument("--stack", required=True, help="the stack whose Pulumi.<stack>.yaml to plan")
    parser.add_argument("--root", type=Path, default=ROOT, help="the project directory (default: this one)")
    args = parser.parse_args(argv)
    # Outputs waiting on a refused resource fail too: the error is reported once, below, not by asyncio.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    try:
        with deploy(args.stack, root=args.root) as deployment:
            lines = list(render(deployment))
    except Exception as error:  # any refusal (config, program, AWS) ends the plan with its message
        print(f"error: stack {args.stack} was not deployed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
