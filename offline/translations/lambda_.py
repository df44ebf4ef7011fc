"""Lambda: the release function from its image, and the invocation that runs a release (not run offline)."""

from __future__ import annotations

import json
from typing import Any

from offline.aws import Aws, Inputs, physical_name
from offline.translations.registry import Outputs, translates

#: The function's inputs as CreateFunction names them, where the provider passes them on as they are.
PASSED_ON = {"timeout": "Timeout", "memorySize": "MemorySize", "architectures": "Architectures"}


@translates(
    "aws:lambda/function:Function",
    unchecked={
        "imageUri": "Lambda pulls the image when the function is created; moto stores the reference "
        "(the image is built and run under Lambda's runtime API in tests/node/test_release_image.py)",
    },
)
def function(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateFunction from an image."""
    lambda_ = aws.client("lambda")
    function_name = physical_name(name, inputs, max_length=64)
    optional: dict[str, Any] = {PASSED_ON[k]: v for k, v in inputs.items() if k in PASSED_ON}
    if "vpcConfig" in inputs:
        optional["VpcConfig"] = {
            "SubnetIds": list(inputs["vpcConfig"]["subnetIds"]),
            "SecurityGroupIds": list(inputs["vpcConfig"]["securityGroupIds"]),
        }
    if "environment" in inputs:
        optional["Environment"] = {"Variables": dict(inputs["environment"].get("variables") or {})}
    if "loggingConfig" in inputs:
        logging = inputs["loggingConfig"]
        optional["LoggingConfig"] = {"LogFormat": logging["logFormat"], "LogGroup": logging["logGroup"]}
    created = lambda_.create_function(
        FunctionName=function_name,
        Role=inputs["role"],
        PackageType=inputs["packageType"],
        Code={"ImageUri": inputs["imageUri"]},
        Description=inputs.get("description", ""),
        Tags=aws.tags(inputs),
        **optional,
    )
    return function_name, {
        "arn": created["FunctionArn"],
        "name": function_name,
        "qualifiedArn": f"{created['FunctionArn']}:{created['Version']}",
        "version": created["Version"],
    }


@translates(
    "aws:lambda/invocation:Invocation",
    unchecked={
        "input": "the release command runs in AWS, in the function's image; moto would need Docker and the "
        "image to run it, so the plan records the input and runs nothing",
    },
)
def invocation(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """Nothing is invoked offline: the function exists (GetFunction), and the input is the release's."""
    aws.client("lambda").get_function(FunctionName=inputs["functionName"])
    release = json.loads(inputs["input"])
    return f"{inputs['functionName']}_$LATEST_{name}", {"result": json.dumps({"image": release["image"]})}


@translates("aws:ecr/repositoryPolicy:RepositoryPolicy")
def repository_policy(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """SetRepositoryPolicy: who else may pull the repository's images."""
    set_policy = aws.client("ecr").set_repository_policy(
        repositoryName=inputs["repository"], policyText=inputs["policy"]
    )
    return inputs["repository"], {"registryId": set_policy["registryId"]}
