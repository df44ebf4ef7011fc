"""Elastic Load Balancing v2: load balancers, target groups, listeners."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from offline.aws import Aws, Inputs, pascal, physical_name, require_known
from offline.translations.registry import Outputs, translates
from policies import access_log_refusal


def arn_suffix(arn: str) -> str:
    """The part of an ELB ARN CloudWatch uses as a dimension (`app/...`, `targetgroup/...`)."""
    return arn.split(":", 5)[5].removeprefix("loadbalancer/")


LOAD_BALANCER_ATTRIBUTES = {
    "enableDeletionProtection": "deletion_protection.enabled",
    "idleTimeout": "idle_timeout.timeout_seconds",
    "dropInvalidHeaderFields": "routing.http.drop_invalid_header_fields.enabled",
    "enableHttp2": "routing.http2.enabled",
    "desyncMitigationMode": "routing.http.desync_mitigation_mode",
    "enableCrossZoneLoadBalancing": "load_balancing.cross_zone.enabled",
}
"""Inputs of `aws.lb.LoadBalancer` the provider sets through `ModifyLoadBalancerAttributes`."""


def _attribute(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@translates("aws:lb/loadBalancer:LoadBalancer")
def load_balancer(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateLoadBalancer, then the attributes the provider sets, access logs included."""
    elbv2 = aws.client("elbv2")
    lb_name = physical_name(name, inputs, max_length=32)
    created = elbv2.create_load_balancer(
        Name=lb_name,
        Subnets=inputs["subnets"],
        SecurityGroups=inputs.get("securityGroups", []),
        Scheme="internal" if inputs.get("internal") else "internet-facing",
        Type=inputs.get("loadBalancerType", "application"),
        IpAddressType=inputs.get("ipAddressType", "ipv4"),
        **aws.tags_parameter(inputs),
    )["LoadBalancers"][0]
    attributes = [
        {"Key": key, "Value": _attribute(inputs[prop])}
        for prop, key in LOAD_BALANCER_ATTRIBUTES.items()
        if prop in inputs
    ]
    if "accessLogs" in inputs:
        logs = inputs["accessLogs"]
        require_known(logs, ("enabled", "bucket", "prefix"), "accessLogs")
        attributes += [
            {"Key": "access_logs.s3.enabled", "Value": _attribute(logs.get("enabled", True))},
            {"Key": "access_logs.s3.bucket", "Value": logs["bucket"]},
            {"Key": "access_logs.s3.prefix", "Value": logs.get("prefix", "")},
        ]
    if "accessLogs" in inputs and inputs["accessLogs"].get("enabled"):
        _may_write_access_logs(aws, inputs["accessLogs"])
    if attributes:
        elbv2.modify_load_balancer_attributes(
            LoadBalancerArn=created["LoadBalancerArn"], Attributes=attributes
        )
    arn = created["LoadBalancerArn"]
    return arn, {
        "arn": arn,
        "arnSuffix": arn_suffix(arn),
        "dnsName": created["DNSName"],
        "zoneId": created["CanonicalHostedZoneId"],
        "name": lb_name,
        "vpcId": created["VpcId"],
    }


def _may_write_access_logs(aws: Aws, logs: Mapping[str, Any]) -> None:
    """AWS test-writes to the bucket when access logs are switched on and refuses the load balancer if it
    cannot; moto writes nothing, so the bucket policy is evaluated as IAM would (policy
    alb-access-logs-deliverable)."""
    s3 = aws.client("s3")
    try:
        policy = s3.get_bucket_policy(Bucket=logs["bucket"])["Policy"]
    except s3.exceptions.ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchBucketPolicy":
            raise
        policy = None
    refusal = access_log_refusal(
        policy,
        bucket=logs["bucket"],
        prefix=logs.get("prefix", ""),
        account_id=aws.account_id,
        region=aws.region,
    )
    if refusal is not None:
        raise ValueError(
            f"InvalidConfigurationRequest: Access Denied for bucket: {logs['bucket']}. Please check S3bucket "
            f"permission (policy alb-access-logs-deliverable: {refusal})"
        )


@translates("aws:lb/targetGroup:TargetGroup")
def target_group(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateTargetGroup with its health check, then its deregistration delay."""
    elbv2 = aws.client("elbv2")
    tg_name = physical_name(name, inputs, max_length=32)
    parameters = inputs.renamed(
        {
            "protocol": "Protocol",
            "protocolVersion": "ProtocolVersion",
            "port": "Port",
            "vpcId": "VpcId",
            "targetType": "TargetType",
            "ipAddressType": "IpAddressType",
        }
    )
    if "healthCheck" in inputs:
        check = inputs["healthCheck"]
        names = {
            "enabled": "HealthCheckEnabled",
            "protocol": "HealthCheckProtocol",
            "port": "HealthCheckPort",
            "path": "HealthCheckPath",
            "interval": "HealthCheckIntervalSeconds",
            "timeout": "HealthCheckTimeoutSeconds",
            "healthyThreshold": "HealthyThresholdCount",
            "unhealthyThreshold": "UnhealthyThresholdCount",
        }
        require_known(check, [*names, "matcher"], "healthCheck")
        parameters.update({names[k]: v for k, v in check.items() if k in names})
        if "matcher" in check:
            parameters["Matcher"] = {"HttpCode": check["matcher"]}
    created = elbv2.create_target_group(Name=tg_name, **aws.tags_parameter(inputs), **parameters)
    arn = created["TargetGroups"][0]["TargetGroupArn"]
    if "deregistrationDelay" in inputs:
        elbv2.modify_target_group_attributes(
            TargetGroupArn=arn,
            Attributes=[
                {"Key": "deregistration_delay.timeout_seconds", "Value": str(inputs["deregistrationDelay"])}
            ],
        )
    return arn, {"arn": arn, "arnSuffix": arn_suffix(arn), "name": tg_name}


def _action(action: Mapping[str, Any]) -> dict[str, Any]:
    """A listener `defaultAction` as an ELBv2 `Action`."""
    require_known(
        {k for k, v in action.items() if v is not None},
        ("type", "targetGroupArn", "order", "redirect", "fixedResponse", "forward"),
        "defaultActions",
    )
    converted: dict[str, Any] = {"Type": action["type"]}
    if "targetGroupArn" in action:
        converted["TargetGroupArn"] = action["targetGroupArn"]
    if "order" in action:
        converted["Order"] = action["order"]
    for key in ("redirect", "fixedResponse", "forward"):
        if key in action:
            converted[f"{key[:1].upper()}{key[1:]}Config"] = pascal(
                action[key], {"targetGroups": "TargetGroups"}
            )
    return converted


@translates("aws:lb/listener:Listener")
def listener(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateListener, refusing what AWS refuses and moto takes."""
    elbv2 = aws.client("elbv2")
    parameters: dict[str, Any] = {}
    # AWS refuses an unknown TLS policy and an HTTPS listener without a certificate; moto takes both.
    if "sslPolicy" in inputs:
        if not elbv2.describe_ssl_policies(Names=[inputs["sslPolicy"]])["SslPolicies"]:
            raise ValueError(f"SSLPolicyNotFound: {inputs['sslPolicy']!r} is not an ELB security policy")
        parameters["SslPolicy"] = inputs["sslPolicy"]
    if inputs["protocol"] in {"HTTPS", "TLS"} and "certificateArn" not in inputs:
        raise ValueError(
            f"ValidationError: a certificate must be specified for {inputs['protocol']} listeners"
        )
    if "certificateArn" in inputs:
        parameters["Certificates"] = [{"CertificateArn": inputs["certificateArn"]}]
    if "alpnPolicy" in inputs:
        parameters["AlpnPolicy"] = [inputs["alpnPolicy"]]
    created = elbv2.create_listener(
        LoadBalancerArn=inputs["loadBalancerArn"],
        Protocol=inputs["protocol"],
        Port=inputs["port"],
        DefaultActions=[_action(a) for a in inputs["defaultActions"]],
        **aws.tags_parameter(inputs),
        **parameters,
    )
    arn = created["Listeners"][0]["ListenerArn"]
    return arn, {"arn": arn}
