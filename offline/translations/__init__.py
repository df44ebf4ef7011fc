"""One translation per `aws:*` resource type the program declares: the program's inputs (camelCase, as the
mocks receive them) become the AWS API calls the provider would make on create, against moto; the outputs
are what moto answers (ids, ARNs, DNS names), in the provider's camelCase.

Each translation reads every input it sends. An input it does not read must be listed as `provider_only`
(acted on by the provider alone, with no API call on create) or `unchecked` (moto cannot check it), each with
its reason; any other input fails the run, so nothing the program declares is silently dropped.
"""

# Importing a module registers its translations in RESOURCES.
from offline.translations import (  # noqa: F401
    autoscaling,
    dns,
    ec2,
    ecr,
    elb,
    iam,
    kms,
    lambda_,
    monitoring,
    rds,
    rollout,
    s3,
    wafv2,
)
from offline.translations.registry import RESOURCES, Translation

__all__ = ["RESOURCES", "Translation"]
