"""ACM certificates and their DNS validation, Route 53 records."""

from __future__ import annotations

from typing import Any

from offline.aws import Aws, Inputs, require_known
from offline.translations.registry import Outputs, translates


@translates("aws:acm/certificate:Certificate")
def certificate(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """RequestCertificate with DNS validation."""
    acm = aws.client("acm")
    optional: dict[str, Any] = {}
    if "subjectAlternativeNames" in inputs:
        optional["SubjectAlternativeNames"] = inputs["subjectAlternativeNames"]
    if "keyAlgorithm" in inputs:
        optional["KeyAlgorithm"] = inputs["keyAlgorithm"]
    arn = acm.request_certificate(
        DomainName=inputs["domainName"],
        ValidationMethod=inputs["validationMethod"],
        **aws.tags_parameter(inputs),
        **optional,
    )["CertificateArn"]
    described = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    return arn, {
        "arn": arn,
        "status": described["Status"],
        "domainValidationOptions": [
            {
                "domainName": option["DomainName"],
                "resourceRecordName": option["ResourceRecord"]["Name"],
                "resourceRecordType": option["ResourceRecord"]["Type"],
                "resourceRecordValue": option["ResourceRecord"]["Value"],
            }
            for option in described["DomainValidationOptions"]
        ],
    }


def _resolve(aws: Aws, record_name: str, record_type: str) -> list[str]:
    """What DNS answers for a name, from the Route 53 zones in moto (the deepest zone containing it)."""
    route53 = aws.client("route53")
    fqdn = record_name.rstrip(".") + "."
    zones = [
        z
        for z in route53.list_hosted_zones()["HostedZones"]
        if fqdn.endswith("." + z["Name"]) or fqdn == z["Name"]
    ]
    if not zones:
        return []
    zone = max(zones, key=lambda z: len(z["Name"]))
    records = route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    return [
        value["Value"]
        for record in records
        if record["Name"] == fqdn and record["Type"] == record_type
        for value in record.get("ResourceRecords", [])
    ]


@translates("aws:acm/certificateValidation:CertificateValidation")
def certificate_validation(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """What the provider does: require the certificate's validation records among `validationRecordFqdns`,
    then wait until ACM issues it. ACM issues once the records resolve; here they must exist in Route 53
    (moto) with the values ACM asked for, and moto then issues the certificate."""
    acm = aws.client("acm")
    arn = inputs["certificateArn"]
    options = acm.describe_certificate(CertificateArn=arn)["Certificate"]["DomainValidationOptions"]
    declared = {fqdn.rstrip(".") for fqdn in inputs.get("validationRecordFqdns", [])}
    for option in options:
        record = option["ResourceRecord"]
        if declared and record["Name"].rstrip(".") not in declared:
            raise ValueError(f"validationRecordFqdns {sorted(declared)}: missing {record['Name']} for {arn}")
        answers = _resolve(aws, record["Name"], record["Type"])
        if record["Value"] not in answers:
            raise ValueError(
                f"certificate {arn} would never be issued: {record['Name']} {record['Type']} resolves to "
                f"{answers or 'nothing'}, ACM expects {record['Value']}"
            )
    status = acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"]
    if status != "ISSUED":
        raise ValueError(f"certificate {arn} is {status}, not ISSUED")
    return arn, {"certificateArn": arn}


@translates("aws:route53/record:Record", provider_only={"allowOverwrite": "UPSERT instead of CREATE"})
def record(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """ChangeResourceRecordSets: CREATE, or UPSERT when the record may be taken over."""
    record_set: dict[str, Any] = {"Name": inputs["name"], "Type": inputs["type"]}
    if "aliases" in inputs:
        (alias,) = inputs["aliases"]
        require_known(alias, ("zoneId", "name", "evaluateTargetHealth"), "aliases")
        record_set["AliasTarget"] = {
            "HostedZoneId": alias["zoneId"],
            "DNSName": alias["name"],
            "EvaluateTargetHealth": alias["evaluateTargetHealth"],
        }
    else:
        record_set.update(TTL=inputs["ttl"], ResourceRecords=[{"Value": v} for v in inputs["records"]])
    action = "UPSERT" if inputs.get("allowOverwrite") else "CREATE"
    aws.client("route53").change_resource_record_sets(
        HostedZoneId=inputs["zoneId"],
        ChangeBatch={"Changes": [{"Action": action, "ResourceRecordSet": record_set}]},
    )
    return f"{inputs['zoneId']}_{inputs['name']}_{inputs['type']}", {"fqdn": inputs["name"].rstrip(".")}
