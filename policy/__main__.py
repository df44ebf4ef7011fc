"""The policy pack: `pulumi preview --policy-pack policy` runs it against a stack's resources."""

import sys
from pathlib import Path

from pulumi_policy import PolicyPack

# The rules share facts with the program (infra/log_delivery.py, plain data): the project goes on the path.
sys.path.append(str(Path(__file__).resolve().parent.parent))

from policies import POLICIES

PolicyPack(name="flask-nginx-aws-security", policies=POLICIES)
