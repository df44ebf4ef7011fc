"""KMS keys."""

from __future__ import annotations

from offline.aws import Aws, Inputs
from offline.translations.registry import Outputs, translates


@translates(
    "aws:kms/key:Key",
    provider_only={"deletionWindowInDays": "the wait ScheduleKeyDeletion gets on destroy"},
)
def key(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateKey with its policy, and key rotation when asked for."""
    kms = aws.client("kms")
    parameters = inputs.renamed({"description": "Description", "policy": "Policy", "keyUsage": "KeyUsage"})
    created = kms.create_key(
        Tags=[{"TagKey": k, "TagValue": v} for k, v in aws.tags(inputs).items()], **parameters
    )
    key_id = created["KeyMetadata"]["KeyId"]
    if inputs.get("enableKeyRotation"):
        kms.enable_key_rotation(KeyId=key_id)
    return key_id, {"arn": created["KeyMetadata"]["Arn"], "keyId": key_id}
