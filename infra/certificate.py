"""The TLS certificate of the site: an ACM certificate validated through Route 53, or one that exists."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import naming
from infra.config import Domain

VALIDATION_RECORD_TTL = 60


@dataclass(frozen=True, kw_only=True)
class CertificateArgs:
    """The domain to certify; `None` (or `https` off) means the ALB serves plain HTTP and needs none."""

    domain: Domain | None
    https: bool


class Certificate(pulumi.ComponentResource):
    """An ACM certificate for the domain with DNS validation: ACM renews it by itself, so the certbot cron of
    "Nginx as a Reverse Proxy for Flask" has no equivalent here. A `certificateArn` from config is used as
    is."""

    certificate_arn: pulumi.Output[str] | None
    """The validated certificate's ARN, for the HTTPS listener; `None` when the stack serves HTTP only."""

    def __init__(self, name: str, args: CertificateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flask-nginx-aws:certificate:Certificate", name, None, opts)
        domain = args.domain
        if domain is None or not args.https:
            self.certificate_arn = None
        elif domain.certificate_arn is not None:
            self.certificate_arn = pulumi.Output.from_input(domain.certificate_arn)
        else:
            self.certificate_arn = self._request(name, domain)
        self.register_outputs({"certificate_arn": self.certificate_arn})

    def _request(self, name: str, domain: Domain) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        certificate = aws.acm.Certificate(
            naming.child(name, "cert"),
            domain_name=domain.name,
            validation_method="DNS",
            opts=child,
        )
        option = certificate.domain_validation_options[0]
        record = aws.route53.Record(
            naming.child(name, "validation"),
            zone_id=domain.hosted_zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=VALIDATION_RECORD_TTL,
            # The record is the same for every certificate of this name: take it over if it exists.
            allow_overwrite=True,
            opts=child,
        )
        validation = aws.acm.CertificateValidation(
            naming.child(name, "validation"),
            certificate_arn=certificate.arn,
            validation_record_fqdns=[record.fqdn],
            opts=child,
        )
        return validation.certificate_arn
