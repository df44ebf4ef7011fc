"""S3 buckets and their public access block, ownership, encryption, lifecycle and policy."""

from __future__ import annotations

from offline.aws import Aws, Inputs, pascal, physical_name
from offline.translations.registry import Outputs, translates


@translates(
    "aws:s3/bucket:Bucket",
    provider_only={"forceDestroy": "empties the bucket before deleting it on destroy"},
)
def bucket(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateBucket in the region, then its tags."""
    s3 = aws.client("s3")
    bucket_name = physical_name(name, inputs, key="bucket", max_length=63).lower()
    location = (
        {} if aws.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": aws.region}}
    )
    s3.create_bucket(Bucket=bucket_name, **location)
    tags = aws.tag_list(inputs)
    if tags:
        s3.put_bucket_tagging(Bucket=bucket_name, Tagging={"TagSet": tags})
    return bucket_name, {
        "arn": f"arn:aws:s3:::{bucket_name}",
        "bucket": bucket_name,
        "bucketDomainName": f"{bucket_name}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{bucket_name}.s3.{aws.region}.amazonaws.com",
        "region": aws.region,
    }


@translates("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
def public_access_block(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """PutPublicAccessBlock."""
    keys = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    configuration = {key[:1].upper() + key[1:]: bool(inputs.get(key, False)) for key in keys}
    aws.client("s3").put_public_access_block(
        Bucket=inputs["bucket"], PublicAccessBlockConfiguration=configuration
    )
    return inputs["bucket"], {}


@translates("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
def ownership_controls(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """PutBucketOwnershipControls."""
    aws.client("s3").put_bucket_ownership_controls(
        Bucket=inputs["bucket"], OwnershipControls={"Rules": [pascal(inputs["rule"])]}
    )
    return inputs["bucket"], {}


@translates("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
def bucket_encryption(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """PutBucketEncryption."""
    rules = pascal(inputs["rules"], {"sseAlgorithm": "SSEAlgorithm", "kmsMasterKeyId": "KMSMasterKeyID"})
    aws.client("s3").put_bucket_encryption(
        Bucket=inputs["bucket"], ServerSideEncryptionConfiguration={"Rules": rules}
    )
    return inputs["bucket"], {}


@translates("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
def bucket_lifecycle(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """PutBucketLifecycleConfiguration."""
    rules = pascal(inputs["rules"], {"id": "ID"})
    aws.client("s3").put_bucket_lifecycle_configuration(
        Bucket=inputs["bucket"], LifecycleConfiguration={"Rules": rules}
    )
    return inputs["bucket"], {}


@translates("aws:s3/bucketPolicy:BucketPolicy")
def bucket_policy(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """PutBucketPolicy."""
    aws.client("s3").put_bucket_policy(Bucket=inputs["bucket"], Policy=inputs["policy"])
    return inputs["bucket"], {}
