"""The whole program, for each stack as its files configure it, deployed to moto; then moto is asked what
exists. Expected values come from the stack's config, the API and the node stack, never from the program."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest

from infra.architecture import AMI_PARAMETERS
from infra.config import DATABASE_PORT, NGINX_HTTPS_PORT, NGINX_KEEPALIVE_SECONDS
from offline.stack import Deployment, deploy, project_name, stack_config

#: The project's name as its stack files give it (Pulumi.yaml), not as the program does.
PROJECT = project_name()
TLS_POLICIES = {"ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09", "ELBSecurityPolicy-TLS13-1-2-2021-06"}
"""ALB security policies that allow TLS 1.2 and 1.3, nothing older."""
DIGEST = re.compile(
    r"[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/(?P<repository>[a-z0-9/_-]+)@(?P<digest>sha256:[0-9a-f]{64})"
)


@pytest.fixture(scope="module", params=["prod", "dev"])
def deployment(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    """The stack deployed to moto, which stays up for the module's tests of that stack."""
    with deploy(request.param) as deployed:
        yield deployed


def setting(deployment: Deployment, key: str) -> Any:
    """A project config value of the deployed stack (its file, else `Pulumi.yaml`'s default)."""
    raw = stack_config(deployment.stack)[f"{PROJECT}:{key}"]
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def client(deployment: Deployment, service: str) -> Any:
    return boto3.client(service, region_name=deployment.region)


def the_group(deployment: Deployment) -> dict[str, Any]:
    (group,) = client(deployment, "autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    return dict(group)


def the_load_balancer(deployment: Deployment) -> dict[str, Any]:
    (balancer,) = client(deployment, "elbv2").describe_load_balancers()["LoadBalancers"]
    return dict(balancer)


def rules(deployment: Deployment, group_id: str) -> list[dict[str, Any]]:
    ec2 = client(deployment, "ec2")
    found = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])
    return list(found["SecurityGroupRules"])


def test_every_resource_the_program_registers_is_created_in_moto(deployment: Deployment) -> None:
    registered = {(r.typ, r.name) for r in deployment.monitor.registrations if r.custom}
    assert registered == {(c.typ, c.name) for c in deployment.mocks.created}


def test_the_group_is_sized_from_config_and_its_instances_serve_the_target_group(
    deployment: Deployment,
) -> None:
    group = the_group(deployment)
    assert (group["MinSize"], group["DesiredCapacity"], group["MaxSize"]) == (
        setting(deployment, "minSize"),
        setting(deployment, "desiredCapacity"),
        setting(deployment, "maxSize"),
    )
    instances = {i["InstanceId"] for i in group["Instances"]}
    assert len(instances) == setting(deployment, "desiredCapacity")
    (target_group_arn,) = group["TargetGroupARNs"]
    health = client(deployment, "elbv2").describe_target_health(TargetGroupArn=target_group_arn)
    assert {t["Target"]["Id"] for t in health["TargetHealthDescriptions"]} == instances
    assert {t["Target"]["Port"] for t in health["TargetHealthDescriptions"]} == {NGINX_HTTPS_PORT}
    assert group["HealthCheckType"] == "ELB"
    assert group["HealthCheckGracePeriod"] > 0


def test_the_group_runs_the_latest_template_version_in_private_subnets(deployment: Deployment) -> None:
    group = the_group(deployment)
    ec2 = client(deployment, "ec2")
    (template,) = ec2.describe_launch_templates(
        LaunchTemplateIds=[group["LaunchTemplate"]["LaunchTemplateId"]]
    )["LaunchTemplates"]
    assert group["LaunchTemplate"]["Version"] == str(template["LatestVersionNumber"])
    subnet_ids = group["VPCZoneIdentifier"].split(",")
    zones = {s["AvailabilityZone"] for s in ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"]}
    assert zones == set(setting(deployment, "availabilityZones"))
    for subnet_id in subnet_ids:
        (table,) = ec2.describe_route_tables(
            Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}]
        )["RouteTables"]
        default = [r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        assert [r["NatGatewayId"][:4] for r in default] == ["nat-"], "private: out through NAT only"
    nats = ec2.describe_nat_gateways()["NatGateways"]
    assert len(nats) == (1 if setting(deployment, "singleNatGateway") else len(subnet_ids))


def test_the_group_tracks_cpu_and_requests_per_node_of_its_own_target_group(deployment: Deployment) -> None:
    group = the_group(deployment)
    policies = client(deployment, "autoscaling").describe_policies(
        AutoScalingGroupName=group["AutoScalingGroupName"]
    )["ScalingPolicies"]
    assert {policy["PolicyType"] for policy in policies} == {"TargetTrackingScaling"}
    tracking = {
        policy["TargetTrackingConfiguration"]["PredefinedMetricSpecification"][
            "PredefinedMetricType"
        ]: policy["TargetTrackingConfiguration"]
        for policy in policies
    }
    assert set(tracking) == {"ASGAverageCPUUtilization", "ALBRequestCountPerTarget"}
    assert tracking["ASGAverageCPUUtilization"]["TargetValue"] == setting(deployment, "cpuTargetPercent")
    requests = tracking["ALBRequestCountPerTarget"]
    assert requests["TargetValue"] == setting(deployment, "requestTargetPerMinute")
    # The label: the ARN suffixes of the ALB and of the group's target group (API reference, ResourceLabel).
    (target_group_arn,) = group["TargetGroupARNs"]
    balancer_suffix = the_load_balancer(deployment)["LoadBalancerArn"].split(":loadbalancer/")[1]
    target_group_suffix = target_group_arn.split(":", 5)[5]
    label = requests["PredefinedMetricSpecification"]["ResourceLabel"]
    assert label == f"{balancer_suffix}/{target_group_suffix}"


def test_scale_in_ends_the_oldest_node_first(deployment: Deployment) -> None:
    assert the_group(deployment)["TerminationPolicies"] == ["OldestInstance"]


def test_80_redirects_to_443_with_the_issued_certificate_or_forwards_without_https(
    deployment: Deployment,
) -> None:
    elbv2 = client(deployment, "elbv2")
    balancer = the_load_balancer(deployment)
    listeners = {
        listener["Port"]: listener
        for listener in elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    }
    (target_group_arn,) = the_group(deployment)["TargetGroupARNs"]
    forward = [{"Type": "forward", "TargetGroupArn": target_group_arn}]
    if not setting(deployment, "https"):
        assert sorted(listeners) == [80]
        assert listeners[80]["Protocol"] == "HTTP"
        assert listeners[80]["DefaultActions"] == forward
        return
    assert sorted(listeners) == [80, 443]
    (redirect,) = listeners[80]["DefaultActions"]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"] == {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}
    https = listeners[443]
    assert https["Protocol"] == "HTTPS"
    assert https["SslPolicy"] in TLS_POLICIES
    assert https["DefaultActions"] == forward
    (certificate,) = https["Certificates"]
    described = client(deployment, "acm").describe_certificate(CertificateArn=certificate["CertificateArn"])
    assert described["Certificate"]["DomainName"] == setting(deployment, "domainName")
    assert described["Certificate"]["Status"] == "ISSUED"


def test_the_alb_drops_invalid_headers_logs_and_idles_below_nginx(deployment: Deployment) -> None:
    balancer = the_load_balancer(deployment)
    assert balancer["Scheme"] == "internet-facing"
    attributes = {
        a["Key"]: a["Value"]
        for a in client(deployment, "elbv2").describe_load_balancer_attributes(
            LoadBalancerArn=balancer["LoadBalancerArn"]
        )["Attributes"]
    }
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["deletion_protection.enabled"] == str(setting(deployment, "deletionProtection")).lower()
    assert attributes["idle_timeout.timeout_seconds"] == str(setting(deployment, "idleTimeoutSeconds"))
    assert int(attributes["idle_timeout.timeout_seconds"]) < NGINX_KEEPALIVE_SECONDS
    assert attributes["access_logs.s3.enabled"] == "true"
    s3 = client(deployment, "s3")
    bucket = attributes["access_logs.s3.bucket"]
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    (expiry,) = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert expiry["Expiration"]["Days"] == setting(deployment, "accessLogRetentionDays")


def test_aws_stores_the_template_with_the_ssm_ami_imdsv2_and_an_encrypted_root(
    deployment: Deployment,
) -> None:
    group = the_group(deployment)
    ec2 = client(deployment, "ec2")
    (version,) = ec2.describe_launch_template_versions(
        LaunchTemplateId=group["LaunchTemplate"]["LaunchTemplateId"],
        Versions=[group["LaunchTemplate"]["Version"]],
    )["LaunchTemplateVersions"]
    data = version["LaunchTemplateData"]
    parameter = AMI_PARAMETERS[setting(deployment, "architecture")]
    ami = client(deployment, "ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
    assert data["ImageId"] == ami
    assert data["InstanceType"] == setting(deployment, "instanceType")
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    assert "KeyName" not in data
    (root,) = data["BlockDeviceMappings"]
    (image,) = ec2.describe_images(ImageIds=[ami])["Images"]
    assert root["DeviceName"] == image["RootDeviceName"]
    assert root["Ebs"]["Encrypted"] is True
    assert root["Ebs"]["VolumeType"] == "gp3"
    assert root["Ebs"]["VolumeSize"] == setting(deployment, "rootVolumeSizeGib")
    profile_name = data["IamInstanceProfile"]["Arn"].rsplit("/", 1)[1]
    (role,) = client(deployment, "iam").get_instance_profile(InstanceProfileName=profile_name)[
        "InstanceProfile"
    ]["Roles"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}


def test_the_user_data_pulls_images_that_are_in_ecr_by_digest(deployment: Deployment) -> None:
    group = the_group(deployment)
    (version,) = client(deployment, "ec2").describe_launch_template_versions(
        LaunchTemplateId=group["LaunchTemplate"]["LaunchTemplateId"],
        Versions=[group["LaunchTemplate"]["Version"]],
    )["LaunchTemplateVersions"]
    script = base64.b64decode(version["LaunchTemplateData"]["UserData"]).decode()
    assert script.startswith("#!/bin/bash")
    references = {m["repository"]: m["digest"] for m in DIGEST.finditer(script)}
    assert sorted(references) == [f"{PROJECT}/{deployment.stack}/app", f"{PROJECT}/{deployment.stack}/proxy"]
    ecr = client(deployment, "ecr")
    for repository, digest in references.items():
        (image,) = ecr.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])[
            "imageDetails"
        ]
        assert image["imageTags"]


def test_the_nodes_subnets_reach_s3_through_a_gateway_endpoint_not_nat(deployment: Deployment) -> None:
    """ECR's image layers come from S3: the route to S3's prefix list goes to the endpoint (free), not NAT."""
    ec2 = client(deployment, "ec2")
    (s3,) = ec2.describe_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [f"com.amazonaws.{deployment.region}.s3"]}]
    )["PrefixLists"]
    for subnet_id in the_group(deployment)["VPCZoneIdentifier"].split(","):
        (table,) = ec2.describe_route_tables(
            Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}]
        )["RouteTables"]
        to_s3 = [r for r in table["Routes"] if r.get("DestinationPrefixListId") == s3["PrefixListId"]]
        assert [r["GatewayId"][:5] for r in to_s3] == ["vpce-"]
    (endpoint,) = ec2.describe_vpc_endpoints()["VpcEndpoints"]
    assert endpoint["VpcEndpointType"] == "Gateway"


def test_aws_stores_only_the_declared_rules_and_an_empty_default_group(deployment: Deployment) -> None:
    balancer = the_load_balancer(deployment)
    (alb_group,) = balancer["SecurityGroups"]
    group = the_group(deployment)
    (version,) = client(deployment, "ec2").describe_launch_template_versions(
        LaunchTemplateId=group["LaunchTemplate"]["LaunchTemplateId"]
    )["LaunchTemplateVersions"]
    (instance_group,) = version["LaunchTemplateData"]["SecurityGroupIds"]

    def summary(group_id: str) -> set[tuple[Any, ...]]:
        return {
            (
                r["IsEgress"],
                r["IpProtocol"],
                r["FromPort"],
                r["ToPort"],
                r.get("CidrIpv4") or r.get("ReferencedGroupInfo", {}).get("GroupId"),
            )
            for r in rules(deployment, group_id)
        }

    assert summary(alb_group) == {
        (False, "tcp", 80, 80, "0.0.0.0/0"),
        (False, "tcp", 443, 443, "0.0.0.0/0"),
        (True, "tcp", NGINX_HTTPS_PORT, NGINX_HTTPS_PORT, instance_group),
    }
    # With a database, the nodes may also open PostgreSQL to its group, which admits them alone.
    databases = client(deployment, "rds").describe_db_instances()["DBInstances"]
    database_groups = [g["VpcSecurityGroupId"] for d in databases for g in d["VpcSecurityGroups"]]
    assert len(database_groups) == (deployment.stack == "prod")
    assert summary(instance_group) == {
        (False, "tcp", NGINX_HTTPS_PORT, NGINX_HTTPS_PORT, alb_group),
        (True, "tcp", 443, 443, "0.0.0.0/0"),
        *((True, "tcp", DATABASE_PORT, DATABASE_PORT, group) for group in database_groups),
    }
    for database_group in database_groups:
        assert summary(database_group) == {(False, "tcp", DATABASE_PORT, DATABASE_PORT, instance_group)}
    ec2 = client(deployment, "ec2")
    (default,) = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [balancer["VpcId"]]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"]
    assert rules(deployment, default["GroupId"]) == []


def test_ecr_repositories_scan_on_push_with_immutable_tags_and_expire_old_images(
    deployment: Deployment,
) -> None:
    ecr = client(deployment, "ecr")
    repositories = ecr.describe_repositories()["repositories"]
    # The release image's repository where the stack has a release command (prod).
    released = [f"{PROJECT}/{deployment.stack}/release"] if setting(deployment, "releaseCommand") else []
    assert sorted(r["repositoryName"] for r in repositories) == sorted(
        [
            f"{PROJECT}/{deployment.stack}/app",
            f"{PROJECT}/{deployment.stack}/proxy",
            *released,
        ]
    )
    for repository in repositories:
        assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repository["imageTagMutability"] == "IMMUTABLE"
        assert repository["encryptionConfiguration"]["encryptionType"] == "KMS"
        policy = ecr.get_lifecycle_policy(repositoryName=repository["repositoryName"])["lifecyclePolicyText"]
        (rule,) = json.loads(policy)["rules"]
        assert rule["selection"]["countNumber"] == setting(deployment, "ecrKeepImages")


def test_default_tags_reach_what_the_provider_tags(deployment: Deployment) -> None:
    environment = json.loads(stack_config(deployment.stack)["aws:defaultTags"])["tags"]["Environment"]
    (vpc,) = [v for v in client(deployment, "ec2").describe_vpcs()["Vpcs"] if not v["IsDefault"]]
    assert {"Key": "Environment", "Value": environment} in vpc["Tags"]
    group = the_group(deployment)
    instance_tags = {(t["Key"], t["Value"]) for t in group["Tags"] if t["PropagateAtLaunch"]}
    assert ("Environment", environment) in instance_tags


def test_the_site_name_points_at_the_alb(deployment: Deployment) -> None:
    route53 = client(deployment, "route53")
    if not setting(deployment, "domainName"):
        assert deployment.outputs["url"] == f"http://{the_load_balancer(deployment)['DNSName']}/"
        return
    zone_id = setting(deployment, "hostedZoneId")
    records = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    (alias,) = [
        r for r in records if r["Name"] == f"{setting(deployment, 'domainName')}." and r["Type"] == "A"
    ]
    assert alias["AliasTarget"]["DNSName"].rstrip(".") == the_load_balancer(deployment)["DNSName"]
    assert deployment.outputs["url"] == f"https://{setting(deployment, 'domainName')}/"


def test_the_alb_is_guarded_by_a_web_acl_that_logs_to_its_waf_log_group(deployment: Deployment) -> None:
    wafv2 = client(deployment, "wafv2")
    acl = wafv2.get_web_acl_for_resource(ResourceArn=the_load_balancer(deployment)["LoadBalancerArn"])[
        "WebACL"
    ]
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    rate = rules["rate-limit"]["Statement"]["RateBasedStatement"]
    assert (rate["Limit"], rate["EvaluationWindowSec"], rate["AggregateKeyType"]) == (
        setting(deployment, "wafRateLimit"),
        setting(deployment, "wafRateWindowSeconds"),
        "IP",
    )
    override = "None" if setting(deployment, "wafManagedRulesMode") == "block" else "Count"
    managed = [rule for rule in acl["Rules"] if "ManagedRuleGroupStatement" in rule["Statement"]]
    assert len(managed) == 3
    assert all(list(rule["OverrideAction"]) == [override] for rule in managed)
    logging = wafv2.get_logging_configuration(ResourceArn=acl["ARN"])["LoggingConfiguration"]
    (destination,) = logging["LogDestinationConfigs"]
    group_name = destination.split(":log-group:", 1)[1]
    assert group_name.startswith("aws-waf-logs-")
    (group,) = client(deployment, "logs").describe_log_groups(logGroupNamePrefix=group_name)["logGroups"]
    assert group["retentionInDays"] == setting(deployment, "logRetentionDays")
    assert {field["SingleHeader"]["Name"] for field in logging["RedactedFields"]} == {
        "authorization",
        "cookie",
    }
