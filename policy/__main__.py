"""The policy pack: `pulumi preview --policy-pack policy` runs it against a stack's resources."""

from pulumi_policy import PolicyPack

from policies import POLICIES

PolicyPack(name="flask-nginx-aws-security", policies=POLICIES)
