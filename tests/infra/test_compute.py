"""infra/compute.py: a least-privilege role and a hardened launch template running the images."""

from __future__ import annotations

import base64
import gzip
import json

import pulumi
import pulumi_aws as aws
import pytest

from iam_eval import Decision, Principal, Request, evaluate
from infra.app_environment import AppEnvironment
from infra.compute import Compute, ComputeArgs, credit_specification
from infra.config import PROJECT, SpotSettings
from infra.spot_drain import NOTICE_LINE, PROGRAM
from infra.user_data import NginxRateLimit
from tests.conftest import AMI_ID, Harness, spy_options

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
APP = f"{REGISTRY}/{PROJECT}/prod/app@sha256:{'a' * 64}"
PROXY = f"{REGISTRY}/{PROJECT}/prod/proxy@sha256:{'b' * 64}"
REPOSITORIES = [
    f"arn:aws:ecr:us-east-1:123456789012:repository/{PROJECT}/prod/app",
    f"arn:aws:ecr:us-east-1:123456789012:repository/{PROJECT}/prod/proxy",
]
LOG_GROUP = f"arn:aws:logs:us-east-1:123456789012:log-group:/{PROJECT}/prod/node"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
TARGET_GROUP = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-nginx-1a2b3c4/0123456789abcdef"
)
SPOT = SpotSettings(instance_types=("t3.small", "t3a.small"), on_demand_base_capacity=2)
RATE_LIMIT = NginxRateLimit(per_second=7, burst=14)


def build(
    harness: Harness,
    *,
    after: list[pulumi.Resource] | None = None,
    app: AppEnvironment | None = None,
    instance_type: str = "t3.small",
    architecture: str = "x86_64",
    spot: SpotSettings | None = None,
) -> None:
    def program() -> pulumi.Output[int]:
        nodes = Compute(
            "nodes",
            ComputeArgs(
                stack="prod",
                region="us-east-1",
                instance_type=instance_type,
                architecture=architecture,
                root_volume_size_gib=20,
                security_group_id="sg-0123456789abcdef0",
                repository_arns=REPOSITORIES,
                app_image=APP,
                proxy_image=PROXY,
                log_group_name=f"/{PROJECT}/prod/node",
                log_group_arn=LOG_GROUP,
                vpc_cidr="10.0.0.0/16",
                server_name="app.example.com",
                https_port=8443,
                rate_limit=RATE_LIMIT,
                tags={"Environment": "Production"},
                target_group_arn=TARGET_GROUP,
                deregistration_delay_seconds=60,
                spot=spot,
                after=after or (),
                app=app or AppEnvironment.empty(),
            ),
        )
        return nodes.launch_template.latest_version

    harness.evaluate(program)


@pytest.fixture
def compute(harness: Harness) -> None:
    build(harness)


def policy(harness: Harness, name: str) -> list[dict[str, object]]:
    statements: list[dict[str, object]] = json.loads(
        harness.mocks.one("aws:iam/rolePolicy:RolePolicy", name).inputs["policy"]
    )["Statement"]
    return statements


@pytest.mark.usefixtures("compute")
def test_role_is_assumed_by_ec2_and_gets_session_manager(harness: Harness) -> None:
    role = harness.mocks.one("aws:iam/role:Role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust == [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    (attachment,) = harness.mocks.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    assert attachment.inputs["role"] == role.state["name"]


@pytest.mark.usefixtures("compute")
def test_role_pulls_only_these_repositories_and_writes_only_its_log_group(harness: Harness) -> None:
    assert policy(harness, "nodes-ecr-pull")[1]["Resource"] == REPOSITORIES
    assert policy(harness, "nodes-logs")[0]["Resource"] == [LOG_GROUP, f"{LOG_GROUP}:log-stream:*"]
    assert len(harness.mocks.of_type("aws:iam/rolePolicy:RolePolicy")) == 2


@pytest.mark.usefixtures("compute")
def test_launch_template_requires_imdsv2_encrypts_its_disk_and_has_no_ssh_key(harness: Harness) -> None:
    template = harness.mocks.one(LAUNCH_TEMPLATE).inputs
    assert template["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
        "instanceMetadataTags": "disabled",
    }
    (root,) = template["blockDeviceMappings"]
    assert root["deviceName"] == "/dev/xvda"
    assert root["ebs"] == {
        "volumeType": "gp3",
        "volumeSize": 20,
        "encrypted": "true",
        "deleteOnTermination": "true",
    }
    assert "keyName" not in template
    assert template["vpcSecurityGroupIds"] == ["sg-0123456789abcdef0"]
    assert template["instanceType"] == "t3.small"
    assert template["creditSpecification"] == {"cpuCredits": "unlimited"}


@pytest.mark.parametrize(
    ("instance_type", "credits"),
    [("t3.small", "unlimited"), ("t3a.micro", "unlimited"), ("t4g.medium", "unlimited"), ("c7i.large", None)],
)
def test_burstable_types_get_unlimited_credits_and_others_none(
    instance_type: str, credits: str | None
) -> None:
    specification = credit_specification(instance_type)
    assert (specification.cpu_credits if specification is not None else None) == credits


@pytest.mark.parametrize(
    ("instance_type", "architecture", "parameter"),
    [
        ("t3.small", "x86_64", "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"),
        ("t4g.small", "arm64", "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id"),
    ],
)
def test_launch_template_uses_the_ecs_optimized_al2023_ami_from_ssm_and_the_profile(
    harness: Harness, instance_type: str, architecture: str, parameter: str
) -> None:
    build(harness, instance_type=instance_type, architecture=architecture)
    template = harness.mocks.one(LAUNCH_TEMPLATE).inputs
    # The image with Docker (the ECS-optimized AL2023 AMI) of the images' architecture, its id alone.
    assert ("aws:ssm/getParameter:getParameter", {"name": parameter}) in harness.mocks.invokes
    assert template["instanceType"] == instance_type
    # Resolved at deploy time: the template holds the id, not "resolve:ssm:", which rollback refuses.
    assert template["imageId"] == AMI_ID
    profile = harness.mocks.one("aws:iam/instanceProfile:InstanceProfile")
    assert template["iamInstanceProfile"] == {"arn": profile.state["arn"]}
    assert profile.inputs["role"] == harness.mocks.one("aws:iam/role:Role").state["name"]


@pytest.mark.usefixtures("compute")
def test_launch_template_tags_what_it_launches(harness: Harness) -> None:
    specifications = harness.mocks.one(LAUNCH_TEMPLATE).inputs["tagSpecifications"]
    assert {s["resourceType"] for s in specifications} == {"instance", "volume", "network-interface"}
    for specification in specifications:
        assert specification["tags"] == {"Environment": "Production", "Name": f"{PROJECT}-prod-node"}


@pytest.mark.usefixtures("compute")
def test_user_data_runs_the_images_by_digest_behind_the_alb(harness: Harness) -> None:
    script = base64.b64decode(harness.mocks.one(LAUNCH_TEMPLATE).inputs["userData"]).decode()
    assert f"readonly APP_IMAGE={APP}" in script
    assert f"readonly PROXY_IMAGE={PROXY}" in script
    assert f"readonly LOG_GROUP=/{PROJECT}/prod/node" in script
    assert "--env TRUSTED_PROXY_CIDRS=10.0.0.0/16" in script
    assert "--env SERVER_NAME=app.example.com" in script
    assert "--env HTTPS_PORT=8443" in script
    # The per-node limit the program derived from the web ACL's, not render.sh's default.
    assert "--env RATE_LIMIT=7 \\\n    --env RATE_LIMIT_BURST=14 \\\n" in script


def test_no_node_launches_before_its_role_may_pull_and_log(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = spy_options(monkeypatch, aws.ec2.LaunchTemplate)
    build(harness)
    (opts,) = options
    waited = {resource._name for resource in opts.depends_on}
    assert waited == {"nodes-ssm", "nodes-ecr-pull", "nodes-logs"}


def test_no_node_launches_before_the_release_has_run(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = spy_options(monkeypatch, aws.ec2.LaunchTemplate)
    release = aws.lambda_.Invocation("release-run", function_name="release", input="{}")
    build(harness, after=[release])
    (opts,) = options
    assert release in opts.depends_on


def user_data(harness: Harness) -> str:
    return base64.b64decode(harness.mocks.one(LAUNCH_TEMPLATE).inputs["userData"]).decode()


def test_a_spot_node_may_leave_its_target_group_and_no_other(harness: Harness) -> None:
    build(harness, spot=SPOT)
    document = harness.mocks.one("aws:iam/rolePolicy:RolePolicy", "nodes-spot-drain").inputs["policy"]
    node = Principal(arn="arn:aws:iam::123456789012:role/nodes-role-1a2b3c4")
    leave = Request(principal=node, action="elasticloadbalancing:DeregisterTargets", resource=TARGET_GROUP)
    assert evaluate(document, leave) is Decision.ALLOW
    other = TARGET_GROUP.replace("web-nginx-1a2b3c4", "other-9z8y7x6")
    assert (
        evaluate(document, Request(principal=node, action=leave.action, resource=other)) is not Decision.ALLOW
    )
    watch = Request(principal=node, action="elasticloadbalancing:DescribeTargetHealth", resource="*")
    assert evaluate(document, watch) is Decision.ALLOW
    # The drain is in the user data (gzipped), with this target group.
    script = user_data(harness)
    packed = script.split(f"base64 --decode <<'PROGRAM' | gunzip > {PROGRAM}\n", 1)[1].split("PROGRAM\n")[0]
    drain = gzip.decompress(base64.b64decode(packed)).decode()
    assert f"readonly TARGET_GROUP={TARGET_GROUP}" in drain
    assert NOTICE_LINE in drain


@pytest.mark.usefixtures("compute")
def test_an_on_demand_node_has_no_drain_and_no_grant_on_the_target_group(harness: Harness) -> None:
    names = {policy.name for policy in harness.mocks.of_type("aws:iam/rolePolicy:RolePolicy")}
    assert "nodes-spot-drain" not in names
    assert PROGRAM not in user_data(harness)
