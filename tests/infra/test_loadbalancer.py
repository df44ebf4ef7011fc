"""infra/loadbalancer.py: the ALB, its listeners, the target group to nginx, access logs, the alias."""

from __future__ import annotations

import dataclasses

import pulumi
import pulumi_aws as aws
import pytest

from iam_eval import Decision, evaluate
from infra.config import NGINX_HTTPS_PORT, Domain
from infra.loadbalancer import LoadBalancer, LoadBalancerArgs
from policies import access_log_test_write, log_writer_principals
from tests.conftest import ACCOUNT, Harness, spy_options

LISTENER = "aws:lb/listener:Listener"
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
DOMAIN = Domain(name="app.example.com", hosted_zone_id="Z0123456789ABCDEFGHIJ", certificate_arn=None)


def build(harness: Harness, *, https: bool, deletion_protection: bool = True) -> dict[str, str]:
    """Builds the component; returns its URL and server name."""
    seen: dict[str, str] = {}

    def program() -> pulumi.Output[None]:
        web = LoadBalancer(
            "web",
            LoadBalancerArgs(
                region="us-east-1",
                vpc_id="vpc-0123456789abcdef0",
                public_subnet_ids=["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
                security_group_id="sg-0123456789abcdef0",
                certificate_arn=CERTIFICATE if https else None,
                domain=DOMAIN if https else None,
                health_check_path="/healthz",
                idle_timeout_seconds=60,
                deletion_protection=deletion_protection,
                access_log_retention_days=90,
            ),
        )
        return pulumi.Output.all(web.url, web.server_name).apply(
            lambda values: seen.update(url=values[0], server_name=values[1])
        )

    harness.evaluate(program)
    return seen


@pytest.fixture
def https(harness: Harness) -> dict[str, str]:
    return build(harness, https=True)


def test_alb_is_public_hardened_and_logs_access(harness: Harness, https: dict[str, str]) -> None:
    alb = harness.mocks.one("aws:lb/loadBalancer:LoadBalancer")
    bucket = harness.mocks.one("aws:s3/bucket:Bucket")
    assert alb.inputs["loadBalancerType"] == "application"
    assert alb.inputs["internal"] is False
    assert alb.inputs["subnets"] == ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]
    assert alb.inputs["securityGroups"] == ["sg-0123456789abcdef0"]
    assert alb.inputs["dropInvalidHeaderFields"] is True
    assert alb.inputs["enableDeletionProtection"] is True
    assert alb.inputs["idleTimeout"] == 60
    assert alb.inputs["accessLogs"] == {"bucket": bucket.state["bucket"], "prefix": "web", "enabled": True}


def test_logging_is_switched_on_only_once_the_bucket_policy_admits_delivery(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # AWS test-writes to the bucket when logging is switched on, and refuses the ALB if it cannot.
    options = spy_options(monkeypatch, aws.lb.LoadBalancer)
    build(harness, https=True)
    (opts,) = options
    (waited,) = opts.depends_on
    assert isinstance(waited, aws.s3.BucketPolicy)
    assert waited._name == harness.mocks.one("aws:s3/bucketPolicy:BucketPolicy").name


def test_access_log_bucket_is_private_encrypted_and_expires_logs(
    harness: Harness, https: dict[str, str]
) -> None:
    bucket = harness.mocks.one("aws:s3/bucket:Bucket")
    block = harness.mocks.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    encryption = harness.mocks.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    lifecycle = harness.mocks.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert bucket.inputs["forceDestroy"] is False
    assert all(
        block.inputs[key] is True for key in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls")
    )
    assert block.inputs["restrictPublicBuckets"] is True
    assert encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    assert lifecycle.inputs["rules"][0]["expiration"]["days"] == 90
    assert all(r.inputs["bucket"] == bucket.id for r in (block, encryption, lifecycle))


def test_log_delivery_may_write_where_the_alb_writes_and_nowhere_else(
    harness: Harness, https: dict[str, str]
) -> None:
    # The object AWS writes when logging is switched on: under the ALB's own bucket and prefix, for the
    # ALB's account, by either writer us-east-1 has; IAM decides on the bucket policy as declared.
    alb = harness.mocks.one("aws:lb/loadBalancer:LoadBalancer")
    policy = harness.mocks.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"]
    bucket, prefix = alb.inputs["accessLogs"]["bucket"], alb.inputs["accessLogs"]["prefix"]
    writers = log_writer_principals("us-east-1")
    assert len(writers) == 2
    for writer in writers:
        write = access_log_test_write(bucket=bucket, prefix=prefix, account_id=ACCOUNT, writer=writer)
        assert evaluate(policy, write) is Decision.ALLOW
        # Not for another account, nor outside the prefix, nor over plain HTTP.
        other = dataclasses.replace(write, resource=write.resource.replace(ACCOUNT, "999999999999"))
        assert evaluate(policy, other) is Decision.IMPLICIT_DENY
        elsewhere = access_log_test_write(bucket=bucket, prefix="", account_id=ACCOUNT, writer=writer)
        assert evaluate(policy, elsewhere) is Decision.IMPLICIT_DENY
        plain = dataclasses.replace(write, context={**write.context, "aws:SecureTransport": False})
        assert evaluate(policy, plain) is Decision.EXPLICIT_DENY


def test_target_group_reaches_nginx_over_https_and_checks_healthz(
    harness: Harness, https: dict[str, str]
) -> None:
    group = harness.mocks.one("aws:lb/targetGroup:TargetGroup")
    assert (group.inputs["protocol"], group.inputs["port"]) == ("HTTPS", NGINX_HTTPS_PORT)
    assert group.inputs["targetType"] == "instance"
    assert group.inputs["vpcId"] == "vpc-0123456789abcdef0"
    # Every request the ALB still waits on (up to its idle timeout) may finish on a node leaving the group.
    assert (
        group.inputs["deregistrationDelay"]
        == harness.mocks.one("aws:lb/loadBalancer:LoadBalancer").inputs["idleTimeout"]
    )
    check = group.inputs["healthCheck"]
    assert (check["protocol"], check["path"], check["matcher"], check["port"]) == (
        "HTTPS",
        "/healthz",
        "200",
        "traffic-port",
    )
    # Healthy after 2 checks 15 s apart, unhealthy after 3; each check must time out before the next.
    assert (check["interval"], check["healthyThreshold"], check["unhealthyThreshold"]) == (15, 2, 3)
    assert check["timeout"] < check["interval"]


def test_port_80_redirects_and_443_forwards_with_the_certificate(
    harness: Harness, https: dict[str, str]
) -> None:
    alb = harness.mocks.one("aws:lb/loadBalancer:LoadBalancer")
    group = harness.mocks.one("aws:lb/targetGroup:TargetGroup")
    listeners = {r.inputs["port"]: r.inputs for r in harness.mocks.of_type(LISTENER)}
    assert set(listeners) == {80, 443}
    assert all(listener["loadBalancerArn"] == alb.id for listener in listeners.values())
    (redirect,) = listeners[80]["defaultActions"]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"] == {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}
    assert listeners[443]["protocol"] == "HTTPS"
    assert listeners[443]["certificateArn"] == CERTIFICATE
    assert listeners[443]["sslPolicy"] in {
        "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-2021-06",
    }
    assert listeners[443]["defaultActions"] == [{"type": "forward", "targetGroupArn": group.state["arn"]}]
    assert harness.warnings.messages == []


def test_domain_gets_an_alias_to_the_alb(harness: Harness, https: dict[str, str]) -> None:
    alb = harness.mocks.one("aws:lb/loadBalancer:LoadBalancer")
    record = harness.mocks.one("aws:route53/record:Record")
    assert (record.inputs["zoneId"], record.inputs["name"], record.inputs["type"]) == (
        "Z0123456789ABCDEFGHIJ",
        "app.example.com",
        "A",
    )
    assert record.inputs["aliases"] == [
        {"name": alb.state["dnsName"], "zoneId": alb.state["zoneId"], "evaluateTargetHealth": True}
    ]
    assert https == {"url": "https://app.example.com/", "server_name": "app.example.com"}


def test_without_certificate_port_80_forwards_and_the_preview_warns(harness: Harness) -> None:
    seen = build(harness, https=False, deletion_protection=False)
    alb = harness.mocks.one("aws:lb/loadBalancer:LoadBalancer")
    group = harness.mocks.one("aws:lb/targetGroup:TargetGroup")
    (listener,) = harness.mocks.of_type(LISTENER)
    assert (listener.inputs["port"], listener.inputs["protocol"]) == (80, "HTTP")
    assert listener.inputs["defaultActions"] == [{"type": "forward", "targetGroupArn": group.state["arn"]}]
    assert harness.mocks.of_type("aws:route53/record:Record") == []
    assert seen == {"url": f"http://{alb.state['dnsName']}/", "server_name": alb.state["dnsName"]}
    (warning,) = harness.warnings.messages
    assert "plain HTTP" in warning
    assert "domainName" in warning
    assert alb.inputs["enableDeletionProtection"] is False
    assert harness.mocks.one("aws:s3/bucket:Bucket").inputs["forceDestroy"] is True
