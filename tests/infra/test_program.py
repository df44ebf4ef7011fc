"""The whole program, as `pulumi up` runs it, on Pulumi.prod.yaml and Pulumi.dev.yaml as they are."""

from __future__ import annotations

import base64
import json
import re
import time
from collections import Counter
from typing import Any

import pytest

from iam_eval import Decision, Principal, Request
from iam_eval import evaluate as evaluate_policy
from infra.config import PROJECT, ConfigError
from offline.stack import stack_config
from tests.conftest import ACCOUNT, RELEASE_TAGS, ROOT, Harness, pushed_digest

COMMON = {
    "aws:ec2/vpc:Vpc": 1,
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": 1,
    "aws:ec2/internetGateway:InternetGateway": 1,
    "aws:ec2/flowLog:FlowLog": 1,
    # The nodes', the flow logs' and the web ACL's.
    "aws:cloudwatch/logGroup:LogGroup": 3,
    "aws:iam/role:Role": 2,
    "aws:iam/rolePolicy:RolePolicy": 3,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": 1,
    "aws:iam/instanceProfile:InstanceProfile": 1,
    "aws:ec2/securityGroup:SecurityGroup": 2,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": 3,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": 2,
    "aws:ecr/repository:Repository": 2,
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": 2,
    "docker:index/image:Image": 2,
    "aws:s3/bucket:Bucket": 1,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 1,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": 1,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": 1,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": 1,
    "aws:s3/bucketPolicy:BucketPolicy": 1,
    "aws:lb/loadBalancer:LoadBalancer": 1,
    "aws:lb/targetGroup:TargetGroup": 1,
    "aws:ec2/launchTemplate:LaunchTemplate": 1,
    "aws:autoscaling/group:Group": 1,
    # Target tracking on CPU and on requests per node.
    "aws:autoscaling/policy:Policy": 2,
    "aws:sns/topic:Topic": 1,
    "aws:kms/key:Key": 1,
    # Four on the ALB and target group, one on the web ACL's blocked requests.
    "aws:cloudwatch/metricAlarm:MetricAlarm": 5,
    # The web ACL on the ALB, its association and its logging.
    "aws:wafv2/webAcl:WebAcl": 1,
    "aws:wafv2/webAclAssociation:WebAclAssociation": 1,
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": 1,
    # Each new launch template version reaches the group through the gated rollout.
    "pulumi-python:dynamic/rollout:Rollout": 1,
    f"{PROJECT}:network:Network": 1,
    f"{PROJECT}:security:Security": 1,
    f"{PROJECT}:image:Images": 1,
    f"{PROJECT}:certificate:Certificate": 1,
    f"{PROJECT}:loadbalancer:LoadBalancer": 1,
    f"{PROJECT}:observability:NodeLogs": 1,
    f"{PROJECT}:compute:Compute": 1,
    f"{PROJECT}:scaling:Scaling": 1,
    f"{PROJECT}:observability:Alarms": 1,
    f"{PROJECT}:database:Database": 1,
    f"{PROJECT}:release:Release": 1,
    f"{PROJECT}:firewall:Firewall": 1,
}
PROD = {
    **COMMON,
    # Three zones: a public and a private subnet each, a NAT gateway (and address) per zone.
    "aws:ec2/subnet:Subnet": 6,
    "aws:ec2/eip:Eip": 3,
    "aws:ec2/natGateway:NatGateway": 3,
    "aws:ec2/vpcEndpoint:VpcEndpoint": 1,
    "aws:ec2/routeTable:RouteTable": 4,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": 6,
    "aws:acm/certificate:Certificate": 1,
    "aws:acm/certificateValidation:CertificateValidation": 1,
    # The certificate's validation record and the domain's alias.
    "aws:route53/record:Record": 2,
    "aws:lb/listener:Listener": 2,
    "aws:sns/topicSubscription:TopicSubscription": 1,
    # The database: instance, subnet and parameter groups, its security group and the two rules to and
    # from the nodes, its log group and three alarms.
    "aws:rds/instance:Instance": 1,
    "aws:rds/subnetGroup:SubnetGroup": 1,
    "aws:rds/parameterGroup:ParameterGroup": 1,
    "aws:ec2/securityGroup:SecurityGroup": 3,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": 4,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": 3,
    "aws:cloudwatch/metricAlarm:MetricAlarm": 8,
    # The nodes and the release function may read the app's secrets (its SECRET_KEY, the database's).
    # The release phase: its image and repository (with the policy that lets Lambda pull), the function,
    # its role and log group, and the invocation.
    "aws:iam/rolePolicy:RolePolicy": 6,
    "aws:iam/role:Role": 3,
    "aws:cloudwatch/logGroup:LogGroup": 5,
    "aws:ecr/repository:Repository": 3,
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": 3,
    "docker:index/image:Image": 3,
    "aws:ecr/repositoryPolicy:RepositoryPolicy": 1,
    "aws:lambda/function:Function": 1,
    "aws:lambda/invocation:Invocation": 1,
}
DEV = {
    **COMMON,
    # Two zones, one NAT gateway.
    "aws:ec2/subnet:Subnet": 4,
    "aws:ec2/eip:Eip": 1,
    "aws:ec2/natGateway:NatGateway": 1,
    "aws:ec2/vpcEndpoint:VpcEndpoint": 1,
    "aws:ec2/routeTable:RouteTable": 3,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": 4,
    "aws:lb/listener:Listener": 1,
}


def evaluate(harness: Harness, stack: str) -> dict[str, Any]:
    """Runs the program on a stack's files; returns its outputs."""
    harness.use(stack)
    outputs: dict[str, Any] = {}
    harness.evaluate(lambda: harness.run_program().apply(outputs.update))
    return outputs


@pytest.mark.parametrize(("stack", "inventory"), [("prod", PROD), ("dev", DEV)])
def test_each_stack_declares_its_inventory_and_exports_its_outputs(
    harness: Harness, stack: str, inventory: dict[str, int]
) -> None:
    outputs = evaluate(harness, stack)
    assert harness.mocks.counts() == Counter(inventory)
    assert set(outputs) == {
        "url",
        "alb_dns_name",
        "asg_name",
        "app_image",
        "proxy_image",
        "log_group",
        "alarm_topic_arn",
        "database_endpoint",
        "database_secret_arn",
        "web_acl_arn",
    }


def test_prod_evaluates_in_a_few_seconds(harness: Harness) -> None:
    started = time.monotonic()
    evaluate(harness, "prod")
    assert time.monotonic() - started < 5


def test_prod_wires_2_to_10_nodes_behind_the_alb_serving_https_on_its_domain(harness: Harness) -> None:
    outputs = evaluate(harness, "prod")
    mocks = harness.mocks
    group = mocks.one("aws:autoscaling/group:Group")
    template = mocks.one("aws:ec2/launchTemplate:LaunchTemplate")
    target_group = mocks.one("aws:lb/targetGroup:TargetGroup")
    alb = mocks.one("aws:lb/loadBalancer:LoadBalancer")
    validation = mocks.one("aws:acm/certificateValidation:CertificateValidation")
    https = next(r for r in mocks.of_type("aws:lb/listener:Listener") if r.inputs["port"] == 443)
    assert (group.inputs["minSize"], group.inputs["desiredCapacity"], group.inputs["maxSize"]) == (2, 2, 10)
    assert group.inputs["launchTemplate"] == {
        "id": template.id,
        "version": str(template.state["latestVersion"]),
    }
    assert group.inputs["targetGroupArns"] == [target_group.state["arn"]]
    private = {r.id for r in mocks.of_type("aws:ec2/subnet:Subnet") if "private" in r.name}
    assert set(group.inputs["vpcZoneIdentifiers"]) == private
    cpu = mocks.one("aws:autoscaling/policy:Policy", "scaling-cpu").inputs
    assert cpu["autoscalingGroupName"] == group.state["name"]
    assert cpu["targetTrackingConfiguration"]["targetValue"] == 65.0
    requests = mocks.one("aws:autoscaling/policy:Policy", "scaling-requests").inputs
    assert requests["autoscalingGroupName"] == group.state["name"]
    assert requests["targetTrackingConfiguration"] == {
        "predefinedMetricSpecification": {
            "predefinedMetricType": "ALBRequestCountPerTarget",
            "resourceLabel": f"{alb.state['arnSuffix']}/{target_group.state['arnSuffix']}",
        },
        "targetValue": 60000,
    }
    assert https.inputs["certificateArn"] == validation.state["certificateArn"]
    assert alb.inputs["enableDeletionProtection"] is True
    assert {t["key"]: t["value"] for t in group.inputs["tags"]}["Environment"] == "Production"
    assert outputs["url"] == "https://app.example.com/"
    assert outputs["asg_name"] == group.state["name"]
    assert outputs["alb_dns_name"] == alb.state["dnsName"]
    assert harness.warnings.messages == []


def test_prod_nodes_pull_the_pushed_images_by_digest(harness: Harness) -> None:
    outputs = evaluate(harness, "prod")
    images = {
        i.inputs["build"]["target"]: i.state["repoDigest"]
        for i in harness.mocks.of_type("docker:index/image:Image")
    }
    assert (outputs["app_image"], outputs["proxy_image"]) == (images["app"], images["proxy"])
    template = harness.mocks.one("aws:ec2/launchTemplate:LaunchTemplate")
    script = base64.b64decode(template.inputs["userData"]).decode()
    assert f"readonly APP_IMAGE={images['app']}" in script
    assert f"readonly PROXY_IMAGE={images['proxy']}" in script
    vpc = harness.mocks.one("aws:ec2/vpc:Vpc")
    assert f"--env TRUSTED_PROXY_CIDRS={vpc.inputs['cidrBlock']}" in script
    assert "--env SERVER_NAME=app.example.com" in script
    node_logs = next(
        g for g in harness.mocks.of_type("aws:cloudwatch/logGroup:LogGroup") if g.name == "logs-node"
    )
    assert f"readonly LOG_GROUP={node_logs.state['name']}" in script


def test_dev_is_http_only_cheap_and_says_why(harness: Harness) -> None:
    outputs = evaluate(harness, "dev")
    alb = harness.mocks.one("aws:lb/loadBalancer:LoadBalancer")
    (listener,) = harness.mocks.of_type("aws:lb/listener:Listener")
    assert (listener.inputs["port"], listener.inputs["protocol"]) == (80, "HTTP")
    assert outputs["url"] == f"http://{alb.state['dnsName']}/"
    assert alb.inputs["enableDeletionProtection"] is False
    assert harness.mocks.one("aws:ec2/launchTemplate:LaunchTemplate").inputs["instanceType"] == "t3.micro"
    (warning,) = harness.warnings.messages
    assert "plain HTTP" in warning
    script = base64.b64decode(
        harness.mocks.one("aws:ec2/launchTemplate:LaunchTemplate").inputs["userData"]
    ).decode()
    assert f"--env SERVER_NAME={alb.state['dnsName']}" in script


def test_stacks_can_share_an_account_and_region(harness: Harness) -> None:
    """Every physical name the program sets itself (Pulumi generates the others) differs between stacks."""

    def fixed_names(stack: str) -> set[str]:
        evaluate(harness, stack)
        return {
            r.inputs["name"]
            for r in harness.mocks.resources
            if "name" in r.inputs and r.typ.startswith("aws:") and not r.typ.startswith("aws:route53/")
        }

    prod, dev = fixed_names("prod"), fixed_names("dev")
    # prod's more: the log group of its database, named for the stack's DB instance identifier, and the
    # release phase's repository, function and log group. Both name their web ACL and its log group.
    assert len(prod) == 10
    assert prod.isdisjoint(dev)


CONTRACTS = ROOT / "docs" / "aws-contracts.md"


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_aws_contracts_cover_every_resource_type_and_invoke(harness: Harness, stack: str) -> None:
    evaluate(harness, stack)
    text = CONTRACTS.read_text()
    custom = {r.typ for r in harness.mocks.resources if not r.typ.startswith(f"{PROJECT}:")}
    lookups = {token for token, _ in harness.mocks.invokes}
    for token in custom | lookups:
        module, name = token.split(":")[1].split("/")[0], token.rsplit(":", 1)[1]
        if token in lookups:
            name = re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()
        assert f"`{name}`" in text or f".{name}`" in text, f"{token} ({module}) is not in {CONTRACTS.name}"


def test_aws_contracts_cite_tests_that_exist() -> None:
    cited = set(re.findall(r"(tests/[\w/]+\.py)::(\w+)", CONTRACTS.read_text()))
    assert cited
    for path, name in cited:
        assert f"def {name}(" in (ROOT / path).read_text(), f"{path}::{name} is cited but does not exist"


def test_prod_nodes_connect_to_their_database_with_its_managed_secret(harness: Harness) -> None:
    outputs = evaluate(harness, "prod")
    instance = harness.mocks.one("aws:rds/instance:Instance").state
    secret = instance["masterUserSecrets"][0]["secretArn"]
    assert outputs["database_secret_arn"] == secret
    script = base64.b64decode(harness.mocks.one("aws:ec2/launchTemplate:LaunchTemplate").inputs["userData"])
    text = script.decode()
    # Where the database is, and that it must be verified, as plain settings of the app container; the CA
    # bundle is the image's (DATABASE_SSLROOTCERT), which no setting overrides.
    for setting in (
        f"DATABASE_HOST={instance['address']}",
        f"DATABASE_PORT={int(instance['port'])}",
        "DATABASE_NAME=app",
        "DATABASE_SSLMODE=verify-full",
    ):
        assert f"--env {setting}" in text
    assert "DATABASE_SSLROOTCERT" not in text
    # Who to connect as, from the secret RDS manages: the role may read that secret and no other.
    grant = harness.mocks.one("aws:iam/rolePolicy:RolePolicy", "nodes-app-secrets").inputs["policy"]
    role = Principal(arn=f"arn:aws:iam::{ACCOUNT}:role/nodes")
    read = Request(principal=role, action="secretsmanager:GetSecretValue", resource=secret)
    assert evaluate_policy(grant, read) is Decision.ALLOW
    other = Request(principal=role, action="secretsmanager:GetSecretValue", resource=secret + "x")
    assert evaluate_policy(grant, other) is Decision.IMPLICIT_DENY
    references = json.loads(text.split("<<'REFERENCES'\n", 1)[1].split("\nREFERENCES\n", 1)[0])
    by_name = {reference["name"]: reference for reference in references["secrets"]}
    for name, key in (("DATABASE_USER", "username"), ("DATABASE_PASSWORD", "password")):
        assert by_name[name]["arn"] == secret
        assert by_name[name]["jsonKey"] == key


def pinned(digest: str) -> dict[str, str]:
    """Pulumi.prod.yaml with `appImageDigest` set, as `pulumi config set appImageDigest <digest>` sets it."""
    return {**stack_config("prod"), f"{PROJECT}:appImageDigest": digest}


def test_a_pinned_rollback_builds_nothing_and_nodes_and_release_run_the_pinned_release(
    harness: Harness,
) -> None:
    older = RELEASE_TAGS[0]
    app = pushed_digest(f"{PROJECT}/prod/app", older)
    harness.use("prod", pinned(app))
    outputs: dict[str, Any] = {}
    harness.evaluate(lambda: harness.run_program().apply(outputs.update))
    mocks = harness.mocks
    assert mocks.of_type("docker:index/image:Image") == []
    assert not any(token.startswith("aws:ecr/getAuthorizationToken") for token, _ in mocks.invokes)
    urls = {
        r.inputs["name"]: r.state["repositoryUrl"] for r in mocks.of_type("aws:ecr/repository:Repository")
    }
    expected = {
        target: f"{urls[f'{PROJECT}/prod/{target}']}@{pushed_digest(f'{PROJECT}/prod/{target}', older)}"
        for target in ("app", "proxy", "release")
    }
    template = mocks.one("aws:ec2/launchTemplate:LaunchTemplate")
    script = base64.b64decode(template.inputs["userData"]).decode()
    assert f"readonly APP_IMAGE={expected['app']}\n" in script
    assert f"readonly PROXY_IMAGE={expected['proxy']}\n" in script
    # The release phase runs that release's own command, from its release image.
    assert mocks.one("aws:lambda/function:Function").inputs["imageUri"] == expected["release"]
    invocation = json.loads(mocks.one("aws:lambda/invocation:Invocation").inputs["input"])
    assert invocation["image"] == expected["release"]
    assert (outputs["app_image"], outputs["proxy_image"]) == (expected["app"], expected["proxy"])
    inventory = {**PROD}
    del inventory["docker:index/image:Image"]
    assert mocks.counts() == Counter(inventory)


def test_a_pin_ecr_does_not_hold_stops_the_program_before_any_resource(harness: Harness) -> None:
    missing = f"sha256:{'e' * 64}"
    harness.use("prod", pinned(missing))
    with pytest.raises(ConfigError) as raised:
        harness.evaluate(harness.run_program)
    assert str(raised.value).startswith(
        f"{PROJECT}:appImageDigest = {missing!r}: expected the digest of an image ECR repository "
        f"{PROJECT}/prod/app holds (it holds {len(RELEASE_TAGS)}; "
    )
    assert harness.mocks.resources == []
    assert [token for token, _ in harness.mocks.invokes] == ["aws:ecr/getImages:getImages"]


@pytest.mark.parametrize(("stack", "per_second", "mode"), [("prod", 10, "none"), ("dev", 20, "count")])
def test_the_web_acl_guards_the_stacks_alb_and_nginx_takes_its_share_of_the_rate(
    harness: Harness, stack: str, per_second: int, mode: str
) -> None:
    evaluate(harness, stack)
    alb = harness.mocks.one("aws:lb/loadBalancer:LoadBalancer")
    association = harness.mocks.one("aws:wafv2/webAclAssociation:WebAclAssociation")
    assert association.inputs["resourceArn"] == alb.state["arn"]
    assert association.inputs["webAclArn"] == harness.mocks.one("aws:wafv2/webAcl:WebAcl").state["arn"]
    # prod's two nodes share the web ACL's 20 r/s; dev's single node takes all of it.
    script = base64.b64decode(harness.mocks.one("aws:ec2/launchTemplate:LaunchTemplate").inputs["userData"])
    assert (
        f"--env RATE_LIMIT={per_second} \\\n    --env RATE_LIMIT_BURST={2 * per_second} \\\n"
        in script.decode()
    )
    rules = harness.mocks.one("aws:wafv2/webAcl:WebAcl").inputs["rules"]
    assert {next(iter(r["overrideAction"])) for r in rules if "overrideAction" in r} == {mode}
