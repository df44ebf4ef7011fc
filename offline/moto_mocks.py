"""Pulumi mocks that create every `aws:*` resource in moto and answer every invoke from it.

Plain Pulumi mocks echo what the program asks for. These send it to AWS's API as the provider would, to
moto: botocore validates each call against the API model, moto enforces the references between resources
and answers with its own ids, ARNs and DNS names, which flow on into the resources that use them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor

from offline.aws import Aws, Inputs, RejectedError, UntranslatedError
from offline.invokes import INVOKES
from offline.translations import RESOURCES, Translation
from offline.translations.ecr import push_image

DOCKER: dict[str, Translation] = {
    "docker:index/image:Image": Translation(
        push_image,
        provider_only={"buildOnPreview": "whether `pulumi preview` builds too (a preview is not run)"},
    )
}
"""`docker:*` types: images are pushed to moto's ECR as a manifest, never built."""


@dataclass
class Created:
    """One resource as the mocks created it."""

    typ: str
    name: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    unchecked: dict[str, str] = field(default_factory=dict)
    """Inputs moto cannot check, with the reason."""


class MotoMocks(pulumi.runtime.Mocks):
    """`pulumi.runtime.Mocks` on moto. Must be used inside `moto.mock_aws()`; registrations arrive on
    several threads and moto is not thread-safe, so each is handled under one lock."""

    def __init__(self, aws: Aws) -> None:
        self.aws = aws
        self.created: list[Created] = []
        self.invoked: list[str] = []
        self._lock = threading.Lock()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        """Create the resource in moto as the provider would; its id, and its inputs with moto's outputs."""
        if not args.custom:
            return None, {}
        with self._lock:
            inputs = Inputs(args.inputs)
            created = self._create(args.typ, args.name, inputs)
            self.created.append(created)
        return created.id, {**args.inputs, **created.outputs}

    def _create(self, typ: str, name: str, inputs: Inputs) -> Created:
        if typ.startswith("pulumi:providers:"):
            raise UntranslatedError(
                f"{typ} ({name}): explicit providers are not modelled; every resource is created in the "
                "stack's aws:region with its aws:defaultTags"
            )
        translation = RESOURCES.get(typ) or DOCKER.get(typ)
        if translation is None:
            raise UntranslatedError(
                f"{typ} ({name}): the program declares no such type, so it has no translation to the AWS "
                "API; add one in offline/translations/ with the resource"
            )
        try:
            resource_id, outputs = translation.create(self.aws, name, inputs)
        except UntranslatedError as error:
            raise UntranslatedError(f"{typ} ({name}): {error}") from error
        except Exception as error:
            raise RejectedError(f"{typ} {name}: {error}") from error
        untranslated = inputs.unread() - set(translation.provider_only) - set(translation.unchecked)
        if untranslated:
            raise UntranslatedError(f"{typ} ({name}): inputs {sorted(untranslated)} are not sent to AWS")
        unchecked = {key: reason for key, reason in translation.unchecked.items() if key in inputs}
        return Created(typ, name, resource_id, dict(inputs), outputs, unchecked=unchecked)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        """Answer an invoke from moto."""
        answer = INVOKES.get(args.token)
        if answer is None:
            raise UntranslatedError(
                f"invoke {args.token}: not answered from moto; add it to offline/invokes.py"
            )
        with self._lock:
            self.invoked.append(args.token)
            try:
                return answer(self.aws, args.args), []
            except Exception as error:
                raise RejectedError(f"invoke {args.token}: {error}") from error


@dataclass(frozen=True)
class Registration:
    """Where a resource sits in the program: its URN and its parent's (a component, or the stack)."""

    urn: str
    parent: str
    typ: str
    name: str
    custom: bool


class Monitor(MockMonitor):
    """The mock monitor, also recording each registration's parent: mocks alone see no component tree."""

    def __init__(self, mocks: MotoMocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:
        """Register as the mock monitor does, and record the resource's parent."""
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append(
                Registration(response.urn, request.parent, request.type, request.name, bool(request.custom))
            )
        return response
