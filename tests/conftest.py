"""Pulumi mocks shared by the infrastructure tests: a recording `Mocks` with realistic ids and ARNs; and the
scratch directory the node stack's and the benchmarks' tests run nginx and gunicorn in.

The mocks are installed here, at collection time, before any test imports `infra` or runs the program.
"""

from __future__ import annotations

import hashlib
import logging
import runpy
import shutil
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime.stack import Stack

from infra.config import PROJECT
from nodestack.nginx import prepare_static
from nodestack.postgres import Postgres, remove, start_postgres
from nodestack.process import world_readable_tempdir
from offline import invokes
from offline.stack import Warnings, stack_config

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
REGION = "us-east-1"
AMI_ID = "ami-0a1b2c3d4e5f67890"
ALB_ZONE_ID = "Z35SXDOTRQ7X7K"
RELEASE_TAGS = ("0123456789abcdef", "fedcba9876543210")
"""The releases every repository the mocks list holds, oldest first: each target's image under one tag."""


def pushed_digest(repository: str, tag: str) -> str:
    """The digest of the image the mocks' ECR holds in `repository` under `tag`."""
    return f"sha256:{hashlib.sha256(f'{repository}:{tag}'.encode()).hexdigest()}"


def _hex(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


@dataclass
class Resource:
    """One resource the program registered: its type token, logical name, id, inputs and returned state."""

    typ: str
    name: str
    id: str
    inputs: dict[str, Any]
    state: dict[str, Any]


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    """Answers every resource and invoke of the program with realistic values, and records them."""

    resources: list[Resource] = field(default_factory=list)
    invokes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        resource_id, outputs = _outputs(args.typ, args.name, args.inputs)
        state = {**args.inputs, **outputs}
        self.resources.append(Resource(args.typ, args.name, resource_id, dict(args.inputs), state))
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.invokes.append((args.token, dict(args.args)))
        answer = INVOKES.get(args.token)
        if answer is None:
            raise NotImplementedError(f"the mocks do not answer invoke {args.token}")
        return answer(dict(args.args)), []

    # Queries over what was recorded, for the tests.
    def of_type(self, typ: str) -> list[Resource]:
        """The recorded resources of one type token, in registration order."""
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str, name: str | None = None) -> Resource:
        """The single recorded resource of this type (and logical name)."""
        found = [r for r in self.of_type(typ) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {typ} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def counts(self) -> Counter[str]:
        """How many resources of each type token were registered."""
        return Counter(r.typ for r in self.resources)


def _arn(service: str, resource: str, *, region: str = REGION) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{resource}"


ID_PREFIXES = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr",
    "aws:ec2/flowLog:FlowLog": "fl",
}
"""Resources whose id is an EC2-style `<prefix>-<hex>` and whose other outputs the program does not read."""

Outputs = tuple[str, dict[str, Any]]


def _eip(h: str, physical: str, inputs: Mapping[str, Any]) -> Outputs:
    return f"eipalloc-{h}", {"allocationId": f"eipalloc-{h}", "publicIp": "203.0.113.10"}


def _log_group(h: str, physical: str, inputs: Mapping[str, Any]) -> Outputs:
    return physical, {"arn": _arn("logs", f"log-group:{physical}"), "name": physical}


def _role(h: str, physical: str, inputs: Mapping[str, Any]) -> Outputs:
    return physical, {"arn": f"arn:aws:iam::{ACCOUNT}:role/{physical}", "name": physical}


def _instance_profile(h: str, physical: str, inputs: Mapping[str, Any]) -> Outputs:
    return physical, {"arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/{physical}", "name": physical}


def _repository(h: str, physical: str, inputs: Mapping[str, Any]) -> Outputs:
    return physical, {
        "arn": _arn("ecr", f"repository/{physical}"),
        "registryId": ACCOUNT,
        "repositoryUrl": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{physical}",
    }


def _image(h: str, physical: str, inputs: Mapping[str, Any]) -> Outputs:
    """What pulumi-docker returns after a push: the repository and the manifest's digest."""
    repository = str(inputs["imageName"]).rsplit(":", 1)[0]
    reference = f"{repository}@sha256:{hashlib.sha256(str(inputs['imageName']).encode()).hexdigest()}"
    return reference, {"repoDigest": reference}


def _certificate(h: str, physical: str, inputs: Mapping[str, Any]) -> Outputs:
    domain = inputs["domainName"]
    arn = _arn("acm", f"certificate/{_uuid(h)}")
    return arn, {
        "arn": arn,
        "domainValidationOptions": [
            {
                "domainName": domain,
                "resourceRecordName": f"_{h}.{domain}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": f"_{h}.acm-validations.aws.",
            }
        ],
    }


def _certificate_validation(h: str, physical: str, inputs: Mapping[str, Any]) -> Outputs:
    """AWS answers with the certificate's own ARN once it is issued; here another one, so that a test can
    tell the ARN that waits for validation from the certificate's, which does not."""
    return physical, {"certificateArn": _arn("acm", f"certificate/{_uuid(h)}")}


def _record(h: str, physical: str, inputs: Mapping[str, Any]) -> Outputs:
    return f"{inputs['zoneId']}_{inputs['name']}_{inputs['type']}", {"fqdn": str(inputs["name"]).rstrip(".")}


def _bucket(h: str, physical: str, inputs: Mapping[str, Any]) -> Outputs:
    return physical, {"arn": f"arn:aws:s3:::{physical}", "bucket": physical}


def _load_balancer(h: str, physical: str, inputs: Mapping[str, Any]) -> Outputs:
    suffix = f"app/{physical}/{h[:16]}"
    arn = _arn("elasticloadbalancing", f"loadbalancer/{suffix}")
    return arn, {
        "arn": arn,
        "arnSuffix": suffix,
        "dnsName": f"{physical}-{int(h[:8], 16)}.{REGION}.elb.amazonaws.com",
        "zoneId": ALB_ZONE_ID,
    }


def _target_group(h: str, physical: str, inputs: Mapping[str, Any]) -> Outputs:
    suffix = f"targetgroup/{physical}/{h[:16]}"
    return _arn("elasticloadbalancing", suffix), {
        "arn": _arn("elasticloadbalancing", suffix),
        "arnSuffix": suffix,
    }


def _listener(h: str, physical: str, inputs: Mapping[str, Any]) -> Outputs:
    arn = _arn("elasticloadbalancing", f"listener/app/{physical}/{h[:16]}")
    return arn, {"arn": arn}


def _launch_template(h: str, physical: str, inputs: Mapping[str, Any]) -> Outputs:
    # A template that has been updated twice: the group must follow its latest version, whatever it is.
    return f"lt-{h}", {"arn": _arn("ec2", f"launch-template/lt-{h}"), "latestVersion": 3, "defaultVersion": 3}


def _group(h: str, physical: str, inputs: Mapping[str, Any]) -> Outputs:
    return physical, {"arn": _arn("autoscaling", f"autoScalingGroup:{_uuid(h)}"), "name": physical}


def _policy(h: str, physical: str, inputs: Mapping[str, Any]) -> Outputs:
    return physical, {"arn": _arn("autoscaling", f"scalingPolicy:{_uuid(h)}"), "name": physical}


def _topic(h: str, physical: str, inputs: Mapping[str, Any]) -> Outputs:
    return _arn("sns", physical), {"arn": _arn("sns", physical), "name": physical}


def _key(h: str, physical: str, inputs: Mapping[str, Any]) -> Outputs:
    key_id = _uuid(h)
    return key_id, {"arn": _arn("kms", f"key/{key_id}"), "keyId": key_id}


def _alarm(h: str, physical: str, inputs: Mapping[str, Any]) -> Outputs:
    return physical, {"arn": _arn("cloudwatch", f"alarm:{physical}"), "name": physical}


def _web_acl(h: str, physical: str, inputs: Mapping[str, Any]) -> Outputs:
    """A regional web ACL: WAF's id is a UUID, its ARN names scope, name and id."""
    acl_id = _uuid(h)
    return acl_id, {"arn": _arn("wafv2", f"regional/webacl/{physical}/{acl_id}"), "capacity": 1000}


def _db_named(h: str, physical: str, inputs: Mapping[str, Any]) -> Outputs:
    """RDS subnet and parameter groups: their name is their id (RDS names are lowercase)."""
    return physical.lower(), {"name": physical.lower(), "arn": _arn("rds", f"group:{physical.lower()}")}


def _db_instance(h: str, physical: str, inputs: Mapping[str, Any]) -> Outputs:
    """A DB instance: its endpoint, and the secret RDS created for its master password."""
    identifier = str(inputs.get("identifier") or physical).lower()
    address = f"{identifier}.{h[:12]}.{REGION}.rds.amazonaws.com"
    port = inputs.get("port", 5432)
    secret = _arn("secretsmanager", f"secret:rds!db-{_uuid(h)}-{h[:6]}")
    return identifier, {
        "arn": _arn("rds", f"db:{identifier}"),
        "identifier": identifier,
        "address": address,
        "endpoint": f"{address}:{port}",
        "port": port,
        "masterUserSecrets": [
            {"secretArn": secret, "kmsKeyId": _arn("kms", f"key/{_uuid(h[::-1])}"), "secretStatus": "active"}
        ],
    }


BUILDERS: dict[str, Callable[[str, str, Mapping[str, Any]], Outputs]] = {
    "aws:ec2/eip:Eip": _eip,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:iam/role:Role": _role,
    "aws:iam/instanceProfile:InstanceProfile": _instance_profile,
    "aws:ecr/repository:Repository": _repository,
    "docker:index/image:Image": _image,
    "aws:acm/certificate:Certificate": _certificate,
    "aws:acm/certificateValidation:CertificateValidation": _certificate_validation,
    "aws:route53/record:Record": _record,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:lb/targetGroup:TargetGroup": _target_group,
    "aws:lb/listener:Listener": _listener,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:autoscaling/group:Group": _group,
    "aws:autoscaling/policy:Policy": _policy,
    "aws:sns/topic:Topic": _topic,
    "aws:kms/key:Key": _key,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:wafv2/webAcl:WebAcl": _web_acl,
    "aws:rds/subnetGroup:SubnetGroup": _db_named,
    "aws:rds/parameterGroup:ParameterGroup": _db_named,
    "aws:rds/instance:Instance": _db_instance,
}
"""Resources whose computed outputs (ARNs, DNS names, digests, versions) the program reads."""


def _outputs(typ: str, name: str, inputs: Mapping[str, Any]) -> Outputs:
    """The id and computed outputs AWS would return for a new resource (camelCase keys). Physical names
    follow Pulumi's auto-naming: the logical name and seven random characters, unless `name` is given."""
    h = _hex(f"{typ}/{name}", 17)
    physical = str(inputs.get("name") or f"{name}-{h[:7]}")
    if typ in BUILDERS:
        return BUILDERS[typ](h, physical, inputs)
    if typ in ID_PREFIXES:
        return f"{ID_PREFIXES[typ]}-{h}", {}
    return f"{name}-{h[:8]}", {}


def _uuid(h: str) -> str:
    h = (h * 2)[:32]
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _caller_identity(args: Mapping[str, Any]) -> dict[str, Any]:
    return invokes.caller_identity(
        account_id=ACCOUNT,
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/pulumi",
        user_id="AROAEXAMPLEID:pulumi",
    )


def _authorization_token(args: Mapping[str, Any]) -> dict[str, Any]:
    registry_id = args.get("registryId", ACCOUNT)
    return invokes.authorization_token(
        token="QVdTOnNlY3JldA==",  # noqa: S106 - base64 of AWS:secret, made up
        expires_at="2026-11-25T04:30:00Z",
        region=REGION,
        user_name="AWS",
        password="secret-ecr-password",  # noqa: S106 - made up
        proxy_endpoint=f"https://{registry_id}.dkr.ecr.{REGION}.amazonaws.com",
        registry_id=registry_id,
    )


def _parameter(args: Mapping[str, Any]) -> dict[str, Any]:
    return invokes.parameter(
        arn=f"arn:aws:ssm:{REGION}::parameter{args['name']}",
        name=args["name"],
        parameter_type="String",
        value=AMI_ID,
        version=112,
        with_decryption=True,
    )


def _images(args: Mapping[str, Any]) -> dict[str, Any]:
    repository = args["repositoryName"]
    return invokes.images(
        region=REGION,
        registry_id=ACCOUNT,
        repository_name=repository,
        image_ids=[(pushed_digest(repository, tag), tag) for tag in RELEASE_TAGS],
    )


def _vpc(args: Mapping[str, Any]) -> dict[str, Any]:
    return invokes.vpc(
        arn=_arn("ec2", f"vpc/{args['id']}"),
        cidr_block="172.31.0.0/16",
        default=False,
        vpc_id=args["id"],
        owner_id=ACCOUNT,
        state="available",
        tags={},
    )


INVOKES: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "aws:index/getCallerIdentity:getCallerIdentity": _caller_identity,
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": _authorization_token,
    "aws:ssm/getParameter:getParameter": _parameter,
    "aws:ec2/getVpc:getVpc": _vpc,
    "aws:ecr/getImages:getImages": _images,
}
"""Static answers to the program's invokes, shaped as `offline/invokes.py` shapes moto's."""


@dataclass
class Harness:
    """The mocks of one test, its warnings, and a way to switch stacks and config."""

    mocks: RecordingMocks
    warnings: Warnings
    logger: logging.Logger

    def use(self, stack: str, config: Mapping[str, str] | None = None) -> None:
        """Point the runtime at `stack` with its config (or `config`), and forget what was recorded."""
        self.mocks.resources.clear()
        self.mocks.invokes.clear()
        self.warnings.messages.clear()
        pulumi.runtime.set_mocks(self.mocks, project=PROJECT, stack=stack, preview=False, logger=self.logger)
        pulumi.runtime.set_all_config(dict(config) if config is not None else stack_config(stack))

    def evaluate(self, build: Callable[[], Any]) -> RecordingMocks:
        """Run `build` under `pulumi.runtime.test`, which awaits the Output `build` returns and every
        registration; then the recorded resources and invokes are complete and the test can inspect them."""

        @pulumi.runtime.test  # type: ignore[untyped-decorator]
        def run() -> Any:
            return build()

        run()
        return self.mocks

    def run_program(self) -> pulumi.Output[dict[str, Any]]:
        """Run `__main__.py` as the CLI would; returns what it exported (`pulumi.export`)."""
        stack = pulumi.runtime.get_root_resource()
        assert isinstance(stack, Stack)
        stack.outputs.clear()
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        return pulumi.Output.all(**stack.outputs)


def spy_options(monkeypatch: pytest.MonkeyPatch, resource_class: type[pulumi.CustomResource]) -> list[Any]:
    """The `pulumi.ResourceOptions` each new resource of `resource_class` is constructed with: mocks do not
    see resource options, a spy on the constructor does."""
    options: list[Any] = []
    construct = resource_class._internal_init  # type: ignore[attr-defined]

    def spy(self: Any, resource_name: str, opts: pulumi.ResourceOptions, **props: Any) -> None:
        options.append(opts)
        construct(self, resource_name, opts, **props)

    monkeypatch.setattr(resource_class, "_internal_init", spy)
    return options


def pytest_configure(config: pytest.Config) -> None:
    """pulumi-aws warns, on import, about deprecated classes this program does not use."""
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:pulumi_aws")


_LOGGER = logging.getLogger("pulumi-mocks")
_WARNINGS = Warnings()
_LOGGER.addHandler(_WARNINGS)
_LOGGER.propagate = False
_MOCKS = RecordingMocks()
pulumi.runtime.set_mocks(_MOCKS, project=PROJECT, stack="prod", preview=False, logger=_LOGGER)


@pytest.fixture
def harness() -> Iterator[Harness]:
    """Mocks set up for the prod stack's config, with nothing recorded yet."""
    harness = Harness(_MOCKS, _WARNINGS, _LOGGER)
    harness.use("prod")
    yield harness
    pulumi.runtime.set_all_config({})


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    """A scratch directory holding the static files (with .gz twins), certificates and nginx runtimes."""
    path = world_readable_tempdir("node-stack-")
    prepare_static(path)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(workdir: Path) -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster (nodestack/postgres.py), TLS required over TCP, for the sample app."""
    server = start_postgres(workdir)
    yield server
    remove(server)
