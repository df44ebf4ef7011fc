"""dev with `logsEndpoint` on, deployed to moto: the CloudWatch Logs interface endpoint sits in the nodes'
subnets, behind a group that admits HTTPS from those subnets alone. Expected values come from the stack's
config and moto, never from the program."""

from __future__ import annotations

import json
from typing import Any

import boto3  # type: ignore[import-untyped]

from offline.stack import deploy, project_name, stack_config

PROJECT = project_name()


def test_the_logs_endpoint_serves_the_nodes_subnets_over_https_only() -> None:
    config = {**stack_config("dev"), f"{PROJECT}:logsEndpoint": "true"}
    with deploy("dev", config=config) as deployment:
        ec2: Any = boto3.client("ec2", region_name=deployment.region)
        autoscaling: Any = boto3.client("autoscaling", region_name=deployment.region)
        (group,) = autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
        node_subnets = set(group["VPCZoneIdentifier"].split(","))
        endpoints = {e["VpcEndpointType"]: e for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]}
        assert set(endpoints) == {"Gateway", "Interface"}
        logs = endpoints["Interface"]
        assert logs["ServiceName"] == f"com.amazonaws.{deployment.region}.logs"
        assert logs["PrivateDnsEnabled"] is True
        assert set(logs["SubnetIds"]) == node_subnets
        (endpoint_group,) = (g["GroupId"] for g in logs["Groups"])
        rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [endpoint_group]}])
        admitted = {
            (r["IsEgress"], r["IpProtocol"], r["FromPort"], r["ToPort"], r.get("CidrIpv4"))
            for r in rules["SecurityGroupRules"]
        }
        private_cidrs = json.loads(config[f"{PROJECT}:privateSubnetCidrs"])
        assert admitted == {(False, "tcp", 443, 443, cidr) for cidr in private_cidrs}
