"""The Pulumi program: load the stack's config, build the components, export the outputs."""

from pathlib import Path

import pulumi

from infra import config
from infra.certificate import Certificate, CertificateArgs
from infra.compute import Compute, ComputeArgs
from infra.database import Database, DatabaseArgs
from infra.firewall import Firewall, FirewallArgs, node_rate_limit
from infra.image import Images, ImagesArgs, check_app_path, pinned_release
from infra.loadbalancer import LoadBalancer, LoadBalancerArgs
from infra.network import Network, NetworkArgs
from infra.observability import Alarms, AlarmsArgs, NodeLogs, NodeLogsArgs
from infra.release import Release, ReleaseArgs
from infra.rollout import Rollout, RolloutArgs
from infra.scaling import Scaling, ScalingArgs
from infra.security import Security, SecurityArgs

settings = config.load(pulumi.get_stack())
# The app directory is config too: checked against the files, before any resource.
check_app_path(Path(__file__).parent, settings.app_path)
# A rollback's release (appImageDigest) is looked up in ECR before any resource: a digest ECR does not hold
# stops the deployment before it changes anything.
pinned = pinned_release(
    stack=settings.stack, digest=settings.app_image_digest, release=settings.release is not None
)

network = Network(
    "network",
    NetworkArgs(
        layout=settings.network,
        region=settings.region,
        stack=settings.stack,
        log_retention_days=settings.log_retention_days,
    ),
)
security = Security("security", SecurityArgs(vpc_id=network.vpc_id, stack=settings.stack))
images = Images(
    "images",
    ImagesArgs(
        context=Path(__file__).parent,
        app_path=settings.app_path,
        wsgi_app=settings.wsgi_app,
        stack=settings.stack,
        keep_images=settings.ecr_keep_images,
        force_delete=not settings.deletion_protection,
        release=settings.release is not None,
        architecture=settings.architecture,
        pinned=pinned,
    ),
)
certificate = Certificate("certificate", CertificateArgs(domain=settings.domain, https=settings.https))
web = LoadBalancer(
    "web",
    LoadBalancerArgs(
        region=settings.region,
        vpc_id=network.vpc_id,
        public_subnet_ids=network.public_subnet_ids,
        security_group_id=security.alb_security_group.id,
        certificate_arn=certificate.certificate_arn,
        domain=settings.domain,
        health_check_path=settings.health_check_path,
        idle_timeout_seconds=settings.idle_timeout_seconds,
        deletion_protection=settings.deletion_protection,
        access_log_retention_days=settings.access_log_retention_days,
    ),
)
logs = NodeLogs("logs", NodeLogsArgs(stack=settings.stack, retention_days=settings.log_retention_days))
alarms = Alarms(
    "alarms",
    AlarmsArgs(
        alb_arn_suffix=web.alb.arn_suffix,
        target_group_arn_suffix=web.target_group.arn_suffix,
        alarm_email=settings.alarm_email,
        min_healthy_hosts=settings.min_size,
    ),
)
# The web ACL on the ALB: the rate limit over the whole fleet, and AWS's managed rules.
firewall = Firewall(
    "firewall",
    FirewallArgs(
        stack=settings.stack,
        region=settings.region,
        settings=settings.waf,
        alb_arn=web.alb.arn,
        log_retention_days=settings.log_retention_days,
        alarm_topic_arn=alarms.topic.arn,
    ),
)
database = Database(
    "database",
    DatabaseArgs(
        settings=settings.database,
        stack=settings.stack,
        vpc_id=network.vpc_id,
        subnet_ids=network.private_subnet_ids,
        client_security_group_id=security.instance_security_group.id,
        deletion_protection=settings.deletion_protection,
        log_retention_days=settings.log_retention_days,
        alarm_topic_arn=alarms.topic.arn,
    ),
)
app = database.environment(settings.app)
# The release command runs on the release's own image, as the nodes' network and database access allow.
release = Release(
    "release",
    ReleaseArgs(
        settings=settings.release,
        stack=settings.stack,
        region=settings.region,
        image=images.release_image,
        repository_name=images.release_repository_name,
        subnet_ids=network.private_subnet_ids,
        security_group_id=security.instance_security_group.id,
        app=app,
        log_retention_days=settings.log_retention_days,
        architecture=settings.architecture,
        after=database.access,
    ),
)
nodes = Compute(
    "nodes",
    ComputeArgs(
        stack=settings.stack,
        region=settings.region,
        instance_type=settings.instance_type,
        architecture=settings.architecture,
        root_volume_size_gib=settings.root_volume_size_gib,
        security_group_id=security.instance_security_group.id,
        repository_arns=images.repository_arns,
        app_image=images.app_image,
        proxy_image=images.proxy_image,
        log_group_name=logs.log_group.name,
        log_group_arn=logs.log_group.arn,
        vpc_cidr=network.vpc_cidr,
        server_name=web.server_name,
        https_port=config.NGINX_HTTPS_PORT,
        # nginx's per-node limit, the inner line: the web ACL's rate shared over the smallest group.
        rate_limit=node_rate_limit(settings.waf, min_size=settings.min_size),
        tags=settings.tags,
        target_group_arn=web.target_group.arn,
        deregistration_delay_seconds=web.deregistration_delay_seconds,
        spot=settings.spot,
        app=app,
        after=release.before_nodes(),
    ),
)
scaling = Scaling(
    "scaling",
    ScalingArgs(
        launch_template_id=nodes.launch_template.id,
        launch_template_version=nodes.launch_template.latest_version,
        subnet_ids=network.private_subnet_ids,
        target_group_arn=web.target_group.arn,
        alb_arn_suffix=web.alb.arn_suffix,
        target_group_arn_suffix=web.target_group.arn_suffix,
        listeners=web.listeners,
        min_size=settings.min_size,
        desired_capacity=settings.desired_capacity,
        max_size=settings.max_size,
        cpu_target_percent=settings.cpu_target_percent,
        request_target_per_minute=settings.request_target_per_minute,
        schedules=settings.scheduled_capacity,
        stack=settings.stack,
        tags=settings.tags,
        spot=settings.spot,
    ),
)
# New launch template versions reach the group only through a gated refresh, which `pulumi up` waits for.
rollout = Rollout(
    "rollout",
    RolloutArgs(
        region=settings.region,
        group_name=scaling.group.name,
        launch_template_id=nodes.launch_template.id,
        launch_template_version=nodes.launch_template.latest_version,
        mixed_instances_policy=scaling.mixed_instances_policy,
        alarm_names=alarms.rollout_alarm_names,
    ),
    opts=pulumi.ResourceOptions(parent=scaling),
)

pulumi.export("url", web.url)
pulumi.export("alb_dns_name", web.alb.dns_name)
pulumi.export("asg_name", scaling.group.name)
pulumi.export("app_image", images.app_image)
pulumi.export("proxy_image", images.proxy_image)
pulumi.export("log_group", logs.log_group.name)
pulumi.export("alarm_topic_arn", alarms.topic.arn)
pulumi.export("web_acl_arn", firewall.web_acl.arn)
pulumi.export("database_endpoint", database.endpoint_address)
pulumi.export("database_secret_arn", database.master_user_secret_arn)
