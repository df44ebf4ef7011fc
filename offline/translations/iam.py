"""IAM: roles, their inline and managed policies, instance profiles."""

from __future__ import annotations

from offline.aws import Aws, Inputs, autoname, physical_name
from offline.translations.registry import Outputs, translates


@translates("aws:iam/role:Role", provider_only={"forceDetachPolicies": "detaches policies before deleting"})
def role(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateRole with its trust policy."""
    role_name = physical_name(name, inputs, max_length=64)
    optional = inputs.renamed(
        {
            "description": "Description",
            "path": "Path",
            "maxSessionDuration": "MaxSessionDuration",
            "permissionsBoundary": "PermissionsBoundary",
        }
    )
    created = aws.client("iam").create_role(
        RoleName=role_name,
        AssumeRolePolicyDocument=inputs["assumeRolePolicy"],
        Tags=aws.tag_list(inputs),
        **optional,
    )["Role"]
    return role_name, {"arn": created["Arn"], "name": role_name, "uniqueId": created["RoleId"]}


@translates("aws:iam/rolePolicy:RolePolicy")
def role_policy(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """PutRolePolicy."""
    policy_name = physical_name(name, inputs, max_length=128)
    aws.client("iam").put_role_policy(
        RoleName=inputs["role"], PolicyName=policy_name, PolicyDocument=inputs["policy"]
    )
    return f"{inputs['role']}:{policy_name}", {"name": policy_name}


@translates("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
def role_policy_attachment(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """AttachRolePolicy."""
    aws.client("iam").attach_role_policy(RoleName=inputs["role"], PolicyArn=inputs["policyArn"])
    return autoname(f"{inputs['role']}-{name}"), {}


@translates("aws:iam/instanceProfile:InstanceProfile")
def instance_profile(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateInstanceProfile and AddRoleToInstanceProfile."""
    iam = aws.client("iam")
    profile_name = physical_name(name, inputs, max_length=128)
    created = iam.create_instance_profile(
        InstanceProfileName=profile_name, Path=inputs.get("path", "/"), Tags=aws.tag_list(inputs)
    )["InstanceProfile"]
    if "role" in inputs:
        iam.add_role_to_instance_profile(InstanceProfileName=profile_name, RoleName=inputs["role"])
    return profile_name, {
        "arn": created["Arn"],
        "name": profile_name,
        "uniqueId": created["InstanceProfileId"],
    }
