"""Who writes an ALB's access logs, per region, and where. No imports: the policy pack reads it too."""

from __future__ import annotations

LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"
"""Who writes access logs in regions opened from August 2022 on (ELB guide, "Enable access logs for your
Application Load Balancer"); granted in every region."""
ELB_ACCOUNTS = {
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331",
    "ap-south-1": "718504428378",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-southeast-3": "589379963580",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-north-1": "897822967062",
    "eu-south-1": "635631232127",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-west-3": "009996457667",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
}
"""The Elastic Load Balancing account that writes access logs in each region opened before August 2022, also
granted there (same guide; the table of terraform-provider-aws's `aws_elb_service_account`, which fails in
other regions, so it is not invoked)."""


def log_writers(region: str) -> dict[str, str]:
    """The principals that may write the ALB's access logs in `region`."""
    writers = {"Service": LOG_DELIVERY_SERVICE}
    if region in ELB_ACCOUNTS:
        writers["AWS"] = f"arn:aws:iam::{ELB_ACCOUNTS[region]}:root"
    return writers


def log_folder(prefix: str, account_id: str) -> str:
    """Where, under the bucket, an ALB writes its access logs and its test file:
    `<prefix>/AWSLogs/<account>/`, or `AWSLogs/<account>/` without a prefix (ELB guide, "Access logs for
    your Application Load Balancer")."""
    folder = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    return f"{folder}AWSLogs/{account_id}/"
