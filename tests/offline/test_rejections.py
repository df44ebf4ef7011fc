"""Deliberately broken declarations: each is refused with AWS's error, proving the check can fail."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker
import pytest

from infra import policies
from infra.architecture import AMI_PARAMETERS
from infra.config import PROJECT
from infra.log_delivery import log_writers
from infra.rollout import Rollout, RolloutArgs
from offline.aws import RejectedError
from offline.stack import ROOT, deploy, stack_config

AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
ACCOUNT = "123456789012"
"""The account moto answers as."""


def rejected(program: Callable[[], object], stack: str = "dev") -> str:
    """The message of the error a small program's deployment to moto fails with."""
    with pytest.raises(RejectedError) as caught, deploy(stack, program=program, managed_policies=False):
        pass
    return str(caught.value)


def network() -> tuple[aws.ec2.Vpc, list[aws.ec2.Subnet]]:
    vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16")
    subnets = [
        aws.ec2.Subnet(f"subnet-{zone}", vpc_id=vpc.id, cidr_block=cidr, availability_zone=f"us-east-1{zone}")
        for zone, cidr in (("a", "10.0.0.0/24"), ("b", "10.0.1.0/24"))
    ]
    return vpc, subnets


def template(**overrides: Any) -> aws.ec2.LaunchTemplate:
    ami = aws.ssm.get_parameter_output(name=AMI_PARAMETER)
    return aws.ec2.LaunchTemplate("lt", image_id=ami.value, instance_type="t3.micro", **overrides)


def test_an_instance_type_that_does_not_exist_passes_config_but_not_aws() -> None:
    config = {**stack_config("dev"), f"{PROJECT}:instanceType": "t3.smol"}
    with pytest.raises(RejectedError) as caught, deploy("dev", config=config):
        pass
    message = str(caught.value)
    assert message.startswith("aws:ec2/launchTemplate:LaunchTemplate nodes-lt:")
    assert "LaunchTemplateData.InstanceType: 't3.smol' is not one of a1.medium" in message


@pytest.mark.parametrize("spot", [False, True], ids=["template", "mixed-instances-overrides"])
def test_a_group_whose_template_pairs_an_arm64_ami_with_an_x86_64_instance_type(spot: bool) -> None:
    def program() -> None:
        _, subnets = network()
        ami = aws.ssm.get_parameter_output(name=AMI_PARAMETERS["arm64"])
        # With a mixed instances policy, the overrides' types are the ones launched.
        launch = aws.ec2.LaunchTemplate(
            "lt", image_id=ami.value, instance_type="t4g.micro" if spot else "t3.micro"
        )
        specification = (
            aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateLaunchTemplateSpecificationArgs(
                launch_template_id=launch.id, version="$Latest"
            )
        )
        mixed = aws.autoscaling.GroupMixedInstancesPolicyArgs(
            launch_template=aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateArgs(
                launch_template_specification=specification,
                overrides=[
                    aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs(instance_type=kind)
                    for kind in ("t3.micro", "t3a.micro")
                ],
            )
        )
        aws.autoscaling.Group(
            "asg",
            min_size=1,
            max_size=2,
            vpc_zone_identifiers=[s.id for s in subnets],
            **(
                {"mixed_instances_policy": mixed}
                if spot
                else {
                    "launch_template": aws.autoscaling.GroupLaunchTemplateArgs(
                        id=launch.id, version="$Latest"
                    )
                }
            ),
        )

    message = rejected(program)
    assert message.startswith("aws:autoscaling/group:Group asg:")
    assert (
        "The architecture 'x86_64' of the specified instance type does not match the architecture 'arm64' of "
        "the specified AMI"
    ) in message


def test_a_listener_forwarding_to_a_target_group_that_does_not_exist() -> None:
    def program() -> None:
        _, subnets = network()
        balancer = aws.lb.LoadBalancer("alb", subnets=[s.id for s in subnets])
        aws.lb.Listener(
            "http",
            load_balancer_arn=balancer.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="forward",
                    target_group_arn=balancer.arn.apply(
                        lambda arn: arn.replace(":loadbalancer/app/", ":targetgroup/") + "0"
                    ),
                )
            ],
        )

    assert "TargetGroupNotFound" in rejected(program)


# moto answers with an error code its own Auto Scaling model does not list, and says so.
@pytest.mark.filterwarnings("ignore:Exception\\(InvalidLaunchTemplateVersionNotFound\\):UserWarning")
def test_a_group_on_a_launch_template_version_that_does_not_exist() -> None:
    def program() -> None:
        _, subnets = network()
        launch = template()
        aws.autoscaling.Group(
            "asg",
            min_size=1,
            max_size=2,
            vpc_zone_identifiers=[s.id for s in subnets],
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(
                id=launch.id, version=launch.latest_version.apply(lambda v: str(v + 1))
            ),
        )

    message = rejected(program)
    assert message.startswith("aws:autoscaling/group:Group asg:")
    assert "VersionNotFound" in message


def errors_alarm() -> aws.cloudwatch.MetricAlarm:
    """An alarm a rollout can watch."""
    return aws.cloudwatch.MetricAlarm(
        "errors",
        name="errors",
        namespace="AWS/ApplicationELB",
        metric_name="HTTPCode_Target_5XX_Count",
        statistic="Sum",
        period=60,
        evaluation_periods=1,
        comparison_operator="GreaterThanThreshold",
        threshold=0,
    )


@pytest.mark.parametrize(
    ("version", "alarm", "error"),
    [(lambda v: v + 1, "errors", "VersionNotFound"), (lambda v: v, "typo", "alarms ['typo'] do not exist")],
)
def test_a_rollout_naming_a_version_or_an_alarm_that_does_not_exist(
    version: Callable[[int], int], alarm: str, error: str
) -> None:
    def program() -> None:
        _, subnets = network()
        launch = template()
        group = aws.autoscaling.Group(
            "asg",
            min_size=1,
            max_size=2,
            vpc_zone_identifiers=[s.id for s in subnets],
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(
                id=launch.id, version=launch.latest_version.apply(str)
            ),
        )
        errors = errors_alarm()
        Rollout(
            "rollout",
            RolloutArgs(
                region="us-east-1",
                group_name=group.name,
                launch_template_id=launch.id,
                launch_template_version=launch.latest_version.apply(version),
                alarm_names=[errors.name.apply(lambda _: alarm)],
            ),
        )

    message = rejected(program)
    assert message.startswith("pulumi-python:dynamic/rollout:Rollout rollout:")
    assert error in message


def test_a_group_registering_with_a_target_group_that_does_not_exist() -> None:
    def program() -> None:
        vpc, subnets = network()
        launch = template()
        target_group = aws.lb.TargetGroup("nginx", vpc_id=vpc.id, protocol="HTTPS", port=8443)
        aws.autoscaling.Group(
            "asg",
            min_size=1,
            max_size=2,
            vpc_zone_identifiers=[s.id for s in subnets],
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(id=launch.id, version="1"),
            target_group_arns=[target_group.arn.apply(lambda arn: arn.replace("/nginx-", "/other-"))],
        )

    message = rejected(program)
    assert message.startswith("aws:autoscaling/group:Group asg:")
    assert "TargetGroupNotFound" in message


def test_a_scaling_policy_on_a_group_that_does_not_exist() -> None:
    def program() -> None:
        aws.autoscaling.Policy(
            "cpu",
            autoscaling_group_name="no-such-group",
            policy_type="TargetTrackingScaling",
            target_tracking_configuration=aws.autoscaling.PolicyTargetTrackingConfigurationArgs(
                predefined_metric_specification=aws.autoscaling.PolicyTargetTrackingConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type="ASGAverageCPUUtilization"
                ),
                target_value=65,
            ),
        )

    assert "auto scaling group 'no-such-group' not found" in rejected(program)


def test_a_request_policy_on_a_target_group_the_group_does_not_serve() -> None:
    def program() -> None:
        vpc, subnets = network()
        launch = template()
        served = aws.lb.TargetGroup("nginx", vpc_id=vpc.id, protocol="HTTPS", port=8443)
        other = aws.lb.TargetGroup("other", vpc_id=vpc.id, protocol="HTTPS", port=8443)
        balancer = aws.lb.LoadBalancer("alb", subnets=[s.id for s in subnets])
        group = aws.autoscaling.Group(
            "asg",
            min_size=1,
            max_size=2,
            vpc_zone_identifiers=[s.id for s in subnets],
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(id=launch.id, version="1"),
            target_group_arns=[served.arn],
        )
        aws.autoscaling.Policy(
            "requests",
            autoscaling_group_name=group.name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration=aws.autoscaling.PolicyTargetTrackingConfigurationArgs(
                predefined_metric_specification=aws.autoscaling.PolicyTargetTrackingConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type="ALBRequestCountPerTarget",
                    resource_label=pulumi.Output.concat(balancer.arn_suffix, "/", other.arn_suffix),
                ),
                target_value=60000,
            ),
        )

    message = rejected(program)
    assert message.startswith("aws:autoscaling/policy:Policy requests:")
    assert "of a target group attached to the group" in message


def test_a_scheduled_action_on_a_group_that_does_not_exist() -> None:
    def program() -> None:
        aws.autoscaling.Schedule(
            "peak",
            scheduled_action_name="peak",
            autoscaling_group_name="no-such-group",
            recurrence="0 8 * * 1-5",
            min_size=4,
            max_size=10,
            desired_capacity=-1,
        )

    message = rejected(program)
    assert message.startswith("aws:autoscaling/schedule:Schedule peak:")
    assert "auto scaling group 'no-such-group' not found" in message


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {
                "block_device_mappings": [
                    aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                        device_name="/dev/xvda",
                        ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                            volume_type="gp9", volume_size=20
                        ),
                    )
                ]
            },
            "LaunchTemplateData.BlockDeviceMappings[0].Ebs.VolumeType: 'gp9' is not one of",
        ),
        (
            {"metadata_options": aws.ec2.LaunchTemplateMetadataOptionsArgs(http_tokens="require")},
            "LaunchTemplateData.MetadataOptions.HttpTokens: 'require' is not one of optional, required",
        ),
    ],
)
def test_a_malformed_launch_template(overrides: dict[str, Any], expected: str) -> None:
    def program() -> None:
        template(**overrides)

    message = rejected(program)
    assert message.startswith("aws:ec2/launchTemplate:LaunchTemplate lt: CreateLaunchTemplate.")
    assert expected in message


def test_a_redirect_code_the_api_does_not_have() -> None:
    def program() -> None:
        _, subnets = network()
        balancer = aws.lb.LoadBalancer("alb", subnets=[s.id for s in subnets])
        aws.lb.Listener(
            "http",
            load_balancer_arn=balancer.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="redirect",
                    redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                        protocol="HTTPS", port="443", status_code="HTTP_308"
                    ),
                )
            ],
        )

    assert "StatusCode: 'HTTP_308' is not one of HTTP_301, HTTP_302" in rejected(program)


def test_an_https_listener_with_a_tls_policy_elb_does_not_have() -> None:
    def program() -> None:
        _, subnets = network()
        balancer = aws.lb.LoadBalancer("alb", subnets=[s.id for s in subnets])
        certificate = aws.acm.Certificate("cert", domain_name="app.example.com", validation_method="DNS")
        aws.lb.Listener(
            "https",
            load_balancer_arn=balancer.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy="ELBSecurityPolicy-TLS13-1-3-2099-01",
            certificate_arn=certificate.arn,
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="fixed-response",
                    fixed_response=aws.lb.ListenerDefaultActionFixedResponseArgs(content_type="text/plain"),
                )
            ],
        )

    assert "SSLPolicyNotFound: 'ELBSecurityPolicy-TLS13-1-3-2099-01'" in rejected(program)


def test_a_rule_admitting_a_security_group_that_does_not_exist() -> None:
    def program() -> None:
        vpc, _ = network()
        group = aws.ec2.SecurityGroup("sg", vpc_id=vpc.id)
        aws.vpc.SecurityGroupIngressRule(
            "in",
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=8443,
            to_port=8443,
            referenced_security_group_id="sg-0123456789abcdef0",
        )

    assert "InvalidGroup.NotFound" in rejected(program)


def test_a_certificate_whose_validation_record_was_never_written_is_never_issued() -> None:
    def program() -> None:
        certificate = aws.acm.Certificate("cert", domain_name="app.example.com", validation_method="DNS")
        aws.acm.CertificateValidation("validation", certificate_arn=certificate.arn)

    assert "would never be issued" in rejected(program, stack="prod")


def test_an_image_pushed_twice_under_an_immutable_tag() -> None:
    context = ROOT / "docker"

    def image(name: str, target: str, repository: aws.ecr.Repository) -> docker.Image:
        token = aws.ecr.get_authorization_token_output(registry_id=repository.registry_id)
        return docker.Image(
            name,
            build=docker.DockerBuildArgs(context=str(context), target=target, platform="linux/amd64"),
            image_name=repository.repository_url.apply(lambda url: f"{url}:v1"),
            registry=docker.RegistryArgs(
                server=repository.repository_url, username=token.user_name, password=token.password
            ),
        )

    def program() -> None:
        repository = aws.ecr.Repository("repo", image_tag_mutability="IMMUTABLE")
        image("first", "app", repository)
        image("second", "proxy", repository)

    message = rejected(program)
    assert "ImageAlreadyExistsException" in message or "ImageTagAlreadyExistsException" in message


def test_an_image_of_a_stage_the_dockerfile_does_not_have(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim AS app\n")

    def program() -> None:
        repository = aws.ecr.Repository("repo")
        token = aws.ecr.get_authorization_token_output(registry_id=repository.registry_id)
        docker.Image(
            "image",
            build=docker.DockerBuildArgs(context=str(tmp_path), target="proxy"),
            image_name=repository.repository_url.apply(lambda url: f"{url}:v1"),
            registry=docker.RegistryArgs(
                server=repository.repository_url, username=token.user_name, password=token.password
            ),
        )

    assert "no stage 'proxy' (stages: app)" in rejected(program)


def access_logged_alb(policy: Callable[[str], str]) -> None:
    """An ALB logging under prefix `web` to a bucket whose policy is `policy(bucket ARN)`."""
    vpc, subnets = network()
    aws.ec2.InternetGateway("igw", vpc_id=vpc.id)
    bucket = aws.s3.Bucket("logs")
    bucket_policy = aws.s3.BucketPolicy("logs", bucket=bucket.id, policy=bucket.arn.apply(policy))
    aws.lb.LoadBalancer(
        "alb",
        subnets=[s.id for s in subnets],
        access_logs=aws.lb.LoadBalancerAccessLogsArgs(bucket=bucket.bucket, prefix="web", enabled=True),
        opts=pulumi.ResourceOptions(depends_on=[bucket_policy]),
    )


def test_an_alb_whose_log_bucket_admits_no_write_under_its_prefix() -> None:
    # The bucket policy the program shipped before: log delivery may write under AWSLogs/, not web/AWSLogs/.
    def unprefixed(arn: str) -> str:
        return policies.access_log_bucket(
            arn, prefix="", writers=log_writers("us-east-1"), account_id=ACCOUNT
        )

    message = rejected(lambda: access_logged_alb(unprefixed))
    assert "Access Denied for bucket" in message
    assert "policy alb-access-logs-deliverable" in message
    assert "/web/AWSLogs/123456789012/ELBAccessLogTestFile" in message


def test_an_alb_whose_log_bucket_admits_the_write_is_created() -> None:
    def prefixed(arn: str) -> str:
        return policies.access_log_bucket(
            arn, prefix="web", writers=log_writers("us-east-1"), account_id=ACCOUNT
        )

    with deploy("dev", program=lambda: access_logged_alb(prefixed), managed_policies=False) as deployment:
        assert [c.typ for c in deployment.mocks.created].count("aws:lb/loadBalancer:LoadBalancer") == 1


def alarm_to(topic: aws.sns.Topic) -> None:
    aws.cloudwatch.MetricAlarm(
        "alarm",
        comparison_operator="GreaterThanThreshold",
        evaluation_periods=1,
        metric_name="UnHealthyHostCount",
        namespace="AWS/ApplicationELB",
        period=60,
        statistic="Maximum",
        threshold=0,
        alarm_actions=[topic.arn],
    )


@pytest.mark.parametrize("key", ["alias/aws/sns", f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/aws/sns"])
def test_an_alarm_publishing_to_a_topic_under_the_aws_managed_key(key: str) -> None:
    message = rejected(lambda: alarm_to(aws.sns.Topic("topic", kms_master_key_id=key)))
    assert "policy alarm-topic-key-usable" in message
    assert "alias/aws/sns" in message


def test_an_alarm_publishing_to_a_topic_whose_key_shuts_cloudwatch_out() -> None:
    def program() -> None:
        account_only = json.loads(policies.alarm_topic_key(ACCOUNT))
        account_only["Statement"] = account_only["Statement"][:1]
        key = aws.kms.Key("key", policy=json.dumps(account_only))
        alarm_to(aws.sns.Topic("topic", kms_master_key_id=key.arn))

    message = rejected(program)
    assert "policy alarm-topic-key-usable" in message
    assert "cloudwatch.amazonaws.com kms:GenerateDataKey: implicit deny" in message


def test_a_rollout_whose_mixed_instances_policy_is_not_the_groups() -> None:
    def program() -> None:
        _, subnets = network()
        launch = template()
        version = launch.latest_version.apply(str)
        group = aws.autoscaling.Group(
            "asg",
            min_size=1,
            max_size=2,
            vpc_zone_identifiers=[s.id for s in subnets],
            mixed_instances_policy=aws.autoscaling.GroupMixedInstancesPolicyArgs(
                launch_template=aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateArgs(
                    launch_template_specification=(
                        aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateLaunchTemplateSpecificationArgs(
                            launch_template_id=launch.id, version=version
                        )
                    ),
                    overrides=[
                        aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs(
                            instance_type=kind
                        )
                        for kind in ("t3.micro", "t3a.micro")
                    ],
                ),
            ),
        )
        alarm = errors_alarm()
        # A refresh carrying another list of types would change the group's once it succeeded.
        Rollout(
            "rollout",
            RolloutArgs(
                region="us-east-1",
                group_name=group.name,
                launch_template_id=launch.id,
                launch_template_version=launch.latest_version,
                mixed_instances_policy={"LaunchTemplate": {"Overrides": [{"InstanceType": "t3.micro"}]}},
                alarm_names=[alarm.name],
            ),
        )

    message = rejected(program)
    assert message.startswith("pulumi-python:dynamic/rollout:Rollout rollout:")
    assert "is not the group's" in message


def web_acl(window: int = 300) -> aws.wafv2.WebAcl:
    visibility = aws.wafv2.WebAclVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name="acl", sampled_requests_enabled=False
    )
    return aws.wafv2.WebAcl(
        "acl",
        scope="REGIONAL",
        default_action=aws.wafv2.WebAclDefaultActionArgs(allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
        visibility_config=visibility,
        rules=[
            aws.wafv2.WebAclRuleArgs(
                name="rate",
                priority=0,
                action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
                statement=aws.wafv2.WebAclRuleStatementArgs(
                    rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                        aggregate_key_type="IP", limit=100, evaluation_window_sec=window
                    )
                ),
                visibility_config=aws.wafv2.WebAclRuleVisibilityConfigArgs(
                    cloudwatch_metrics_enabled=True, metric_name="rate", sampled_requests_enabled=False
                ),
            )
        ],
    )


def test_a_rate_based_rule_with_a_window_waf_does_not_offer() -> None:
    message = rejected(lambda: web_acl(window=30))
    assert message.startswith("aws:wafv2/webAcl:WebAcl acl: WAFInvalidParameterException")
    assert "EvaluationWindowSec 30: one of 60, 120, 300, 600" in message


def logging_to(group_name: str) -> None:
    group = aws.cloudwatch.LogGroup("waf", name=group_name)
    aws.wafv2.WebAclLoggingConfiguration(
        "logging", resource_arn=web_acl().arn, log_destination_configs=[group.arn]
    )


def test_waf_logging_to_a_log_group_not_named_for_waf() -> None:
    message = rejected(lambda: logging_to("/flask/waf"))
    assert message.startswith("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration logging:")
    assert "must start with aws-waf-logs-" in message


def test_waf_logging_to_its_log_group_is_accepted() -> None:
    with deploy(
        "dev", program=lambda: logging_to("aws-waf-logs-flask"), managed_policies=False
    ) as deployment:
        created = [c.typ for c in deployment.mocks.created]
        assert created.count("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration") == 1


def test_a_web_acl_associated_with_a_load_balancer_that_does_not_exist() -> None:
    missing = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/app/gone/0123456789abcdef"
    message = rejected(
        lambda: aws.wafv2.WebAclAssociation("guard", resource_arn=missing, web_acl_arn=web_acl().arn)
    )
    assert "WAFNonexistentItemException: no load balancer" in message
