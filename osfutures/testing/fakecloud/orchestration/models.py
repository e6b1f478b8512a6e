"""Heat's backend: stacks and their CREATE/UPDATE/DELETE actions, with no HTTP.

A stack shows one ``stack_status`` that joins heat's action and status
(``CREATE_IN_PROGRESS``). Each action starts IN_PROGRESS at once and ends COMPLETE or
FAILED when the scenario's plan says; a stuck plan never ends it. Its template's
resources go through the action in between, each recording heat's events
(:mod:`.events`); a failed action fails one resource, which the stack's reason names.
Deleted stacks stay readable by id as ``DELETE_COMPLETE`` (heat soft-deletes them), but
no longer by name nor in lists.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest, Conflict, NotFound
from ..lifecycle import OwnedResource, ResourceStore, Step, find_owned
from ..scenario import Outcome
from ..service import CloudContext, Principal
from .events import NO_RESOURCE, EventLog, failure_reason, template_resources

#: The keys one of which names a template's format (heat's template_format.parse).
VERSION_KEYS = ("heat_template_version", "HeatTemplateFormatVersion", "AWSTemplateFormatVersion")
# heat.engine.stack's name check.
_NAME_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9_.-]{0,254}$")
# What heat says when a server fails and nova gave no detail; FakeCloud's failure of a
# stack whose template has no resources.
DEFAULT_FAILURE = failure_reason(NO_RESOURCE, None)


# Heat names its errors after the exception it raised; errors.render_heat shows the
# class name, so these carry heat's names.
class EntityNotFound(NotFound):
    """404: no such stack."""


class StackExists(Conflict):
    """409: the name is taken in the project."""


class ActionInProgress(Conflict):
    """409: another action runs (heat's legacy engine refuses overlapping actions)."""


class StackValidationFailed(BadRequest):
    """400: an invalid stack name."""


class InvalidTemplateVersion(BadRequest):
    """400: a template without a format version."""


class NotSupported(BadRequest):
    """400: e.g. updating a stack while it is being deleted."""


class RequestLimitExceeded(BadRequest):
    """400: a JSON body over heat's ``max_json_body_size``."""


def not_found(name: str) -> EntityNotFound:
    """Return heat's error for a stack it cannot find by ``name`` (or id)."""
    return EntityNotFound(f"The Stack ({name}) could not be found.")


def check_template(template: Mapping[str, Any]) -> None:
    """Refuse a template without a format version, as heat's engine does.

    Raises:
        InvalidTemplateVersion: with heat's wording.
    """
    present = [key for key in VERSION_KEYS if isinstance(template.get(key), str)]
    if len(present) > 1:
        raise InvalidTemplateVersion(
            f"The template version is invalid: Ambiguous versions ({', '.join(present)})"
        )
    if not present:
        raise InvalidTemplateVersion(
            "The template version is invalid: Template version was not provided"
        )


@dataclass(frozen=True)
class StackSpec:
    """What a create or update asks for.

    Attributes:
        template: the parsed template.
        parameters: parameter values, the environment's merged under the request's.
        options: the other accepted fields (timeout_mins, disable_rollback, tags).
    """

    template: Mapping[str, Any]
    parameters: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)


class Stack(OwnedResource):
    """A heat stack; ``fields`` holds stack_status, stack_status_reason, template,
    parameters, updated_time, deletion_time, deleted and the request's options.

    Attributes:
        events: its events (its own and its resources'), past and planned.
    """

    def __init__(
        self,
        resource_id: str,
        created_at: float,
        fields: dict[str, Any],
        *,
        name: str,
        owner: Principal,
    ) -> None:
        super().__init__(resource_id, created_at, fields, owner)
        self.name = name
        self.events = EventLog(resource_id, name)

    @property
    def action(self) -> str:
        """CREATE, UPDATE or DELETE."""
        return str(self.fields["stack_status"]).split("_", 1)[0]

    @property
    def status(self) -> str:
        """IN_PROGRESS, COMPLETE or FAILED."""
        return str(self.fields["stack_status"]).split("_", 1)[1]


class OrchestrationBackend:
    """The stacks of one cloud.

    Args:
        context: the cloud.
    """

    def __init__(self, context: CloudContext) -> None:
        self.context = context
        self.stacks: ResourceStore[Stack] = context.new_store("stack", "stack_status")

    def stack(self, owner: Principal, stack_id: str, now: float, name: str | None = None) -> Stack:
        """Return a stack by id, soft-deleted ones included, as heat's show does.

        Args:
            name: the name in the URL; it must match, as heat checks.

        Raises:
            EntityNotFound: if there is none in the caller's project.
        """
        found = find_owned(self.stacks, owner, stack_id, now, include_deleted=True)
        if found is None:
            raise not_found(name or stack_id)
        if name is not None and found.name != name:
            raise not_found(name)
        return found

    def identify(self, owner: Principal, name_or_id: str, now: float) -> Stack:
        """Find a stack by id (deleted ones too) or by the name of a live one.

        Raises:
            EntityNotFound: if there is none.
        """
        found = self.stacks.get(name_or_id, now, include_deleted=True)
        if found is not None and found.project_id == owner.project_id:
            return found
        for stack in self.list_stacks(owner, now):
            if stack.name == name_or_id:
                return stack
        raise not_found(name_or_id)

    def list_stacks(self, owner: Principal, now: float, show_deleted: bool = False) -> list[Stack]:
        """Return the caller's stacks, newest first."""
        return [
            stack
            for stack in self.stacks.newest_first(now)
            if stack.project_id == owner.project_id and (show_deleted or not stack.deleted)
        ]

    def create(self, owner: Principal, now: float, name: str, spec: StackSpec) -> Stack:
        """Start creating a stack: CREATE_IN_PROGRESS.

        Raises:
            StackExists: if a live stack has the name.
            StackValidationFailed: on an invalid name.
            InvalidTemplateVersion: on a template without a version.
        """
        if not isinstance(name, str):
            raise StackValidationFailed(f"Invalid stack name {name}, must be a string")
        if any(stack.name == name for stack in self.list_stacks(owner, now)):
            raise StackExists(f"The Stack ({name}) already exists.")
        if not _NAME_RE.match(name):
            raise StackValidationFailed(
                f'Invalid stack name {name} must contain only alphanumeric or "_-." '
                "characters, must start with alpha and must be 255 characters or less."
            )
        check_template(spec.template)
        stack = Stack(
            self.context.new_uuid(),
            now,
            {
                "stack_status": "CREATE_IN_PROGRESS",
                "stack_status_reason": "Stack CREATE started",
                "updated_time": None,
                "deletion_time": None,
                "deleted": False,
                # Heat makes a keystone project for the stack's own users.
                "stack_user_project_id": self.context.new_uuid().replace("-", ""),
                "template": dict(spec.template),
                "parameters": dict(spec.parameters),
                "options": dict(spec.options),
            },
            name=name,
            owner=owner,
        )
        self.stacks.add(stack)
        self._run(stack, "CREATE", now)
        return stack

    def update(
        self, owner: Principal, stack_id: str, name: str, now: float, spec: StackSpec
    ) -> None:
        """Start updating a stack: UPDATE_IN_PROGRESS with the new template.

        Raises:
            EntityNotFound: if there is no such live stack.
            NotSupported: while it is being deleted.
            ActionInProgress: while another action runs.
        """
        stack = self.stack(owner, stack_id, now, name)
        if stack.deleted:
            raise not_found(name)
        if stack.action == "DELETE":
            raise NotSupported("Updating a stack when it is deleting is not supported.")
        if stack.status == "IN_PROGRESS":
            raise ActionInProgress(
                f"Stack {stack.name} already has an action ({stack.action}) in progress."
            )
        check_template(spec.template)
        stack.fields.update(
            template=dict(spec.template),
            parameters=dict(spec.parameters),
            options={**stack.fields["options"], **spec.options},
        )
        self._run(stack, "UPDATE", now, {"updated_time": now})

    def delete(self, owner: Principal, stack_id: str, name: str, now: float) -> None:
        """Start deleting a stack: DELETE_IN_PROGRESS, then DELETE_COMPLETE and hidden.

        A delete while another action runs supersedes it, as heat's does.

        Raises:
            EntityNotFound: if there is no such live stack.
        """
        stack = self.stack(owner, stack_id, now, name)
        if stack.deleted:
            raise not_found(name)
        if stack.fields["stack_status"] == "DELETE_IN_PROGRESS":
            return
        self._run(stack, "DELETE", now)

    def _run(
        self,
        stack: Stack,
        action: str,
        now: float,
        start: Mapping[str, Any] | None = None,
    ) -> None:
        """Schedule one action: IN_PROGRESS now, the resources one after another, then
        COMPLETE or FAILED when the plan ends; the stack's events with its steps."""
        plan = self.context.scenario.plan("stack", action.lower(), stack.name, stack.plan_key())
        log = stack.events
        log.supersede(now)
        touches = log.touches(action, now, template_resources(stack.fields["template"]))
        steps = [self._step(stack, now, (action, "IN_PROGRESS"), f"Stack {action} started", start)]
        failure = log.plan(touches, now, plan)
        end = now + plan.duration
        if plan.outcome is Outcome.ERROR:
            reason = f"Resource {action} failed: {failure}"
            steps.append(self._step(stack, end, (action, "FAILED"), reason))
        elif plan.outcome is Outcome.OK:
            reason = f"Stack {action} completed successfully"
            gone = {"deletion_time": end, "deleted": True} if action == "DELETE" else None
            steps.append(self._step(stack, end, (action, "COMPLETE"), reason, gone))
        self.stacks.schedule(stack, now, steps)

    @staticmethod
    def _step(
        stack: Stack,
        at: float,
        state: tuple[str, str],
        reason: str,
        extra: Mapping[str, Any] | None = None,
    ) -> Step:
        """Return the step of a stack state change, with ``extra`` field changes, and
        record the stack's event of it (heat records one at each).

        Args:
            state: the action and the status.
        """
        stack.events.add(at, stack.events.stack, state, reason, stack.id)
        changes = {"stack_status": "_".join(state), "stack_status_reason": reason}
        return Step(at, {**changes, **(extra or {})})
