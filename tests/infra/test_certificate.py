"""infra/certificate.py: ACM with DNS validation in the zone, an existing ARN as is, or nothing."""

from __future__ import annotations

import pulumi
import pytest

from infra.certificate import Certificate, CertificateArgs
from infra.config import PROJECT, Domain
from tests.conftest import Harness

DOMAIN = Domain(name="app.example.com", hosted_zone_id="Z0123456789ABCDEFGHIJ", certificate_arn=None)
EXISTING = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def build(harness: Harness, args: CertificateArgs) -> list[str | None]:
    """Builds the component; returns the certificate ARN it hands to the listener (or `None`)."""
    arn: list[str | None] = []

    def program() -> pulumi.Output[None] | None:
        certificate = Certificate("certificate", args)
        if certificate.certificate_arn is None:
            arn.append(None)
            return None
        return certificate.certificate_arn.apply(arn.append)

    harness.evaluate(program)
    return arn


def test_certificate_is_validated_through_a_record_in_the_zone(harness: Harness) -> None:
    arn = build(harness, CertificateArgs(domain=DOMAIN, https=True))
    certificate = harness.mocks.one("aws:acm/certificate:Certificate")
    record = harness.mocks.one("aws:route53/record:Record")
    validation = harness.mocks.one("aws:acm/certificateValidation:CertificateValidation")
    option = certificate.state["domainValidationOptions"][0]
    assert certificate.inputs["domainName"] == "app.example.com"
    assert certificate.inputs["validationMethod"] == "DNS"
    assert record.inputs["zoneId"] == "Z0123456789ABCDEFGHIJ"
    assert (record.inputs["name"], record.inputs["type"], record.inputs["records"]) == (
        option["resourceRecordName"],
        option["resourceRecordType"],
        [option["resourceRecordValue"]],
    )
    assert validation.inputs["certificateArn"] == certificate.state["arn"]
    assert validation.inputs["validationRecordFqdns"] == [record.state["fqdn"]]
    # The listener gets the ARN only once validation is done: it comes from the validation resource
    # (whose ARN the mocks make differ from the certificate's).
    assert validation.state["certificateArn"] != certificate.state["arn"]
    assert arn == [validation.state["certificateArn"]]


def test_existing_certificate_is_used_without_requesting_one(harness: Harness) -> None:
    arn = build(
        harness,
        CertificateArgs(
            domain=Domain(name="app.example.com", hosted_zone_id="Z0123", certificate_arn=EXISTING),
            https=True,
        ),
    )
    assert arn == [EXISTING]
    assert harness.mocks.of_type("aws:acm/certificate:Certificate") == []


@pytest.mark.parametrize("domain", [None, DOMAIN], ids=["no-domain", "domain-without-https"])
def test_http_only_stacks_get_no_certificate(harness: Harness, domain: Domain | None) -> None:
    assert build(harness, CertificateArgs(domain=domain, https=False)) == [None]
    assert [r.typ for r in harness.mocks.resources] == [f"{PROJECT}:certificate:Certificate"]
