"""What every translation needs: boto3 clients on moto, the provider's default tags, Pulumi's auto-naming,
and the program's inputs with a record of which ones were used."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.model import (  # type: ignore[import-untyped]
    ListShape,
    OperationModel,
    Shape,
    StringShape,
    StructureShape,
)

SECRET_SIGNATURE = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")
"""How the Pulumi wire protocol marks a secret value: `{key: signature, "value": ...}`."""


class UntranslatedError(Exception):
    """The program declares something these mocks cannot send to AWS: fix the translation, not the test."""


class RejectedError(Exception):
    """AWS (moto) rejected a resource: the message names it and carries AWS's error."""


def require_known(given: Iterable[str], known: Iterable[str], where: str) -> None:
    """Refuse nested inputs (`given` keys) a translation does not send; `Inputs` tracks top-level ones."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise UntranslatedError(f"{where}: {unknown} are not sent to AWS")


def reveal(value: Any) -> Any:
    """The value as the provider would send it: every secret wrapper removed (AWS sees plain values), and
    whole numbers as `int` (the wire protocol carries every number as a float; botocore refuses a float
    where the API takes an integer, and takes an int where it takes a double)."""
    key, signature = SECRET_SIGNATURE
    if isinstance(value, dict):
        if value.get(key) == signature:
            return reveal(value["value"])
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class Inputs(Mapping[str, Any]):
    """A resource's inputs (camelCase, secrets revealed) that remembers which keys a translation read,
    so an input no translation sends to AWS cannot go unnoticed."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = {k: reveal(v) for k, v in values.items() if v is not None}
        self._read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self._read.add(key)
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def renamed(self, names: Mapping[str, str]) -> dict[str, Any]:
        """The inputs among `names` that were given, each under its AWS parameter name (`names` maps the
        provider's input to the parameter)."""
        return {parameter: self[key] for key, parameter in names.items() if key in self}

    def unread(self) -> set[str]:
        """The keys given but never read."""
        return set(self._values) - self._read


class Aws:
    """boto3 on moto for one region, with the behaviour the Pulumi AWS provider adds to the API."""

    def __init__(self, session: boto3.session.Session, *, default_tags: Mapping[str, str]) -> None:
        self.session = session
        self.region: str = session.region_name
        self.default_tags = dict(default_tags)
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        """One cached client per service, refusing values outside the API model's enums."""
        if service not in self._clients:
            client = self.session.client(service)
            client.meta.events.register("before-parameter-build", _check_enums)
            self._clients[service] = client
        return self._clients[service]

    @property
    def account_id(self) -> str:
        """The account moto answers as."""
        return str(self.client("sts").get_caller_identity()["Account"])

    def tags(self, inputs: Inputs) -> dict[str, str]:
        """The provider's `tagsAll`: `aws:defaultTags`, overridden by the resource's own tags."""
        own = inputs.get("tags") or {}
        return {**self.default_tags, **own}

    def tag_list(self, inputs: Inputs) -> list[dict[str, str]]:
        """`tagsAll` as the `[{Key, Value}]` list most APIs take."""
        return [{"Key": k, "Value": v} for k, v in self.tags(inputs).items()]

    def tags_parameter(self, inputs: Inputs) -> dict[str, list[dict[str, str]]]:
        """`Tags=tagsAll` for APIs that refuse an empty list (ACM, Elastic Load Balancing); nothing when
        there are no tags, as the provider sends none (a stack without aws:defaultTags has none)."""
        tags = self.tag_list(inputs)
        return {"Tags": tags} if tags else {}

    def tag_specifications(self, resource_type: str, inputs: Inputs) -> list[dict[str, Any]]:
        """`tagsAll` as EC2's `TagSpecifications` for one resource type (none when there are no tags)."""
        tags = self.tag_list(inputs)
        return [{"ResourceType": resource_type, "Tags": tags}] if tags else []


ENUM_SHOWN = 8
"""Allowed values an enum error lists (EC2's instance types run to hundreds)."""


class InvalidParameterValueError(ValueError):
    """A parameter value outside its enum in the AWS API model."""


def _check_enums(params: Mapping[str, Any], model: OperationModel, **_: Any) -> None:
    """Refuse a value outside its enum in the API model, as AWS does (`InvalidParameterValue`,
    `ValidationError`): botocore checks types and required members but not enums, and moto checks few."""
    problems = list(_enum_problems(model.input_shape, params, model.name))
    if problems:
        raise InvalidParameterValueError("; ".join(problems))


def _enum_problems(shape: Shape | None, value: Any, path: str) -> Iterator[str]:
    if shape is None:
        return
    if isinstance(shape, StructureShape) and isinstance(value, Mapping):
        for key, member in shape.members.items():
            if key in value:
                yield from _enum_problems(member, value[key], f"{path}.{key}")
    elif isinstance(shape, ListShape) and isinstance(value, list):
        for index, item in enumerate(value):
            yield from _enum_problems(shape.member, item, f"{path}[{index}]")
    elif isinstance(shape, StringShape) and shape.enum and value not in shape.enum:
        shown = ", ".join(shape.enum[:ENUM_SHOWN])
        more = f" and {len(shape.enum) - ENUM_SHOWN} more" if len(shape.enum) > ENUM_SHOWN else ""
        yield f"{path}: {value!r} is not one of {shown}{more}"


def autoname(logical: str, *, max_length: int = 255, lower: bool = False) -> str:
    """Pulumi's auto-naming: the logical name, a dash and seven random characters (here derived from the
    logical name, so a plan is repeatable), the logical name cut to fit `max_length`."""
    suffix = hashlib.sha256(logical.encode()).hexdigest()[:7]
    name = f"{logical[: max_length - len(suffix) - 1]}-{suffix}"
    return name.lower() if lower else name


def physical_name(logical: str, inputs: Inputs, *, key: str = "name", max_length: int = 255) -> str:
    """The name the program gave (`name`), else `namePrefix` plus a suffix, else an auto-name."""
    if key in inputs:
        return str(inputs[key])
    prefix_key = f"{key}Prefix"
    if prefix_key in inputs:
        return f"{inputs[prefix_key]}{hashlib.sha256(logical.encode()).hexdigest()[:26]}"[:max_length]
    return autoname(logical, max_length=max_length)


def pascal(value: Any, renames: Mapping[str, str] | None = None) -> Any:
    """camelCase keys to the PascalCase most AWS APIs use, recursively (`renames` for irregular ones, such
    as `id` → `ID`). Keys the API does not know are refused by botocore's parameter validation."""
    renames = renames or {}
    if isinstance(value, dict):
        return {
            renames.get(k, k[:1].upper() + k[1:]): pascal(v, renames)
            for k, v in value.items()
            if v is not None
        }
    if isinstance(value, list):
        return [pascal(v, renames) for v in value]
    return value


def boolean(value: Any) -> bool:
    """A boolean the provider accepts as `true`/`"true"` (launch template EBS flags are strings)."""
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)
