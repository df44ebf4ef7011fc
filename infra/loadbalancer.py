"""The Application Load Balancer: TLS at the edge, access logs, and a target group reaching nginx."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import naming, policies
from infra.config import NGINX_HTTPS_PORT, Domain
from infra.log_delivery import log_writers

SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
"""TLS 1.2 and 1.3, forward-secret AEAD suites only (Mozilla intermediate), post-quantum key exchange."""
HEALTH_CHECK_INTERVAL_SECONDS = 15
HEALTH_CHECK_TIMEOUT_SECONDS = 5
HEALTHY_THRESHOLD = 2
UNHEALTHY_THRESHOLD = 3


@dataclass(frozen=True, kw_only=True)
class LoadBalancerArgs:
    """Where the ALB lives, what it serves and how it is protected."""

    region: str
    """Decides who writes the access logs."""
    vpc_id: pulumi.Input[str]
    public_subnet_ids: pulumi.Input[list[str]]
    security_group_id: pulumi.Input[str]
    certificate_arn: pulumi.Input[str] | None
    """The HTTPS listener's certificate; `None` serves plain HTTP on port 80 (with a warning)."""
    domain: Domain | None
    """The site's public name: gets an alias record to the ALB."""
    health_check_path: str
    idle_timeout_seconds: int
    deletion_protection: bool
    access_log_retention_days: int


class LoadBalancer(pulumi.ComponentResource):
    """An internet-facing ALB in the public subnets: port 80 redirects to 443, 443 forwards to nginx
    over HTTPS. Access logs go to an encrypted, private S3 bucket."""

    alb: aws.lb.LoadBalancer
    """The load balancer."""
    target_group: aws.lb.TargetGroup
    """The instances' nginx on its TLS port; the autoscaling group registers its instances here."""
    listeners: list[aws.lb.Listener]
    """The ALB's listeners: 80 (redirect) and 443 (forward) with a certificate, else 80 (forward)."""
    access_logs_bucket: aws.s3.Bucket
    """The access logs' bucket."""
    server_name: pulumi.Output[str]
    """The name clients use for the site (the domain, or the ALB's DNS name): nginx's `server_name`."""
    url: pulumi.Output[str]
    """The site's URL."""
    deregistration_delay_seconds: int
    """How long the ALB drains a target leaving the group: its idle timeout."""

    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flask-nginx-aws:loadbalancer:LoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.access_logs_bucket, bucket_policy = self._access_logs(name, args)
        self.deregistration_delay_seconds = args.idle_timeout_seconds
        self.alb = aws.lb.LoadBalancer(
            naming.child(name, "alb"),
            load_balancer_type="application",
            internal=False,
            subnets=args.public_subnet_ids,
            security_groups=[args.security_group_id],
            # Requests with header names that are not valid HTTP never reach nginx (request smuggling).
            drop_invalid_header_fields=True,
            enable_deletion_protection=args.deletion_protection,
            # Below nginx's keep-alive, so the ALB never reuses a connection nginx is closing (502s).
            idle_timeout=args.idle_timeout_seconds,
            access_logs=aws.lb.LoadBalancerAccessLogsArgs(
                bucket=self.access_logs_bucket.bucket, prefix=name, enabled=True
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[bucket_policy]),
        )
        self.target_group = aws.lb.TargetGroup(
            naming.child(name, "nginx"),
            vpc_id=args.vpc_id,
            target_type="instance",
            # The ALB talks TLS to nginx (a certificate nginx makes at start), so traffic stays encrypted
            # inside the VPC too.
            protocol="HTTPS",
            port=NGINX_HTTPS_PORT,
            # A node leaving the group (scale-in, refresh) finishes its in-flight requests for as long as the
            # ALB waits on any of them, its idle timeout (ELB guide, "Deregistration delay"); the group
            # terminates the node only afterwards.
            deregistration_delay=self.deregistration_delay_seconds,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                enabled=True,
                protocol="HTTPS",
                port="traffic-port",
                path=args.health_check_path,
                matcher="200",
                interval=HEALTH_CHECK_INTERVAL_SECONDS,
                timeout=HEALTH_CHECK_TIMEOUT_SECONDS,
                healthy_threshold=HEALTHY_THRESHOLD,
                unhealthy_threshold=UNHEALTHY_THRESHOLD,
            ),
            opts=child,
        )
        forward = aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=self.target_group.arn)
        if args.certificate_arn is None:
            pulumi.log.warn(
                "No domain with a certificate (https is false): the ALB serves plain HTTP on port 80 only. "
                "Set domainName and hostedZoneId, and https to true, to serve HTTPS.",
                resource=self,
            )
            self.listeners = [
                aws.lb.Listener(
                    naming.child(name, "http"),
                    load_balancer_arn=self.alb.arn,
                    port=80,
                    protocol="HTTP",
                    default_actions=[forward],
                    opts=child,
                )
            ]
        else:
            self.listeners = [
                aws.lb.Listener(
                    naming.child(name, "http"),
                    load_balancer_arn=self.alb.arn,
                    port=80,
                    protocol="HTTP",
                    default_actions=[
                        aws.lb.ListenerDefaultActionArgs(
                            type="redirect",
                            redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                                protocol="HTTPS", port="443", status_code="HTTP_301"
                            ),
                        )
                    ],
                    opts=child,
                ),
                aws.lb.Listener(
                    naming.child(name, "https"),
                    load_balancer_arn=self.alb.arn,
                    port=443,
                    protocol="HTTPS",
                    ssl_policy=SSL_POLICY,
                    certificate_arn=args.certificate_arn,
                    default_actions=[forward],
                    opts=child,
                ),
            ]
        if args.domain is not None:
            aws.route53.Record(
                naming.child(name, "alias"),
                zone_id=args.domain.hosted_zone_id,
                name=args.domain.name,
                type="A",
                aliases=[
                    aws.route53.RecordAliasArgs(
                        name=self.alb.dns_name, zone_id=self.alb.zone_id, evaluate_target_health=True
                    )
                ],
                opts=child,
            )
            self.server_name = pulumi.Output.from_input(args.domain.name)
        else:
            self.server_name = self.alb.dns_name
        scheme = "http" if args.certificate_arn is None else "https"
        self.url = self.server_name.apply(lambda host: f"{scheme}://{host}/")
        self.register_outputs(
            {
                "alb_arn": self.alb.arn,
                "dns_name": self.alb.dns_name,
                "target_group_arn": self.target_group.arn,
                "url": self.url,
            }
        )

    def _access_logs(self, name: str, args: LoadBalancerArgs) -> tuple[aws.s3.Bucket, aws.s3.BucketPolicy]:
        """A private bucket for the access logs; SSE-S3, the only encryption ALB log delivery supports."""
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(
            naming.child(name, "access-logs"),
            # With deletion protection off (dev), destroying the stack empties and removes the bucket.
            force_destroy=not args.deletion_protection,
            opts=child,
        )
        aws.s3.BucketPublicAccessBlock(
            naming.child(name, "access-logs"),
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            naming.child(name, "access-logs"),
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            naming.child(name, "access-logs"),
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    )
                )
            ],
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            naming.child(name, "access-logs"),
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-access-logs",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=args.access_log_retention_days
                    ),
                )
            ],
            opts=child,
        )
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke)
        policy = aws.s3.BucketPolicy(
            naming.child(name, "access-logs"),
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, account.account_id).apply(
                lambda values: policies.access_log_bucket(
                    values[0], prefix=name, writers=log_writers(args.region), account_id=values[1]
                )
            ),
            opts=child,
        )
        return bucket, policy
