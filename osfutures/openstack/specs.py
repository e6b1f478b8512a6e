"""THE table of operation specs: one row per openstacksdk call that starts background work.

Every ``<call>_async`` and ``<call>_async_r`` twin comes from a row here; adding a twin
is adding a row. A row names the service and call, the kind of object to watch
(:mod:`osfutures.openstack.kinds`), where that object's id comes from (the call's
result or one of its arguments), the states that mean success, progress and failure,
whether disappearance is the goal (deletions), whether the call creates the object it
returns (creations), and whether a failed attempt leaves an object to clean up before
a retry (creations, and calls that make a new object unless told to use an existing one),
and where a creation carries its journal operation's id (:class:`Carries`), so that a
create whose answer was lost can be found in the cloud and adopted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from openstack.baremetal.v1 import _common as baremetal_common

from osfutures.watch import States

__all__ = [
    "OP_KEY",
    "SPECS",
    "Argument",
    "Carries",
    "Locate",
    "OperationSpec",
    "Returned",
    "argument",
    "keyword_attributes",
    "returned",
    "specs_for",
]

#: Reads the watched object's id from the call's bound arguments and its result.
Locate = Callable[[Mapping[str, Any], Any], "str | None"]


def _id_of(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "id", value))


@dataclass(frozen=True)
class Returned:
    """A :data:`Locate`: the id is ``result.<attribute>``."""

    attribute: str = "id"

    def __call__(self, arguments: Mapping[str, Any], result: Any) -> str | None:
        value = getattr(result, self.attribute, None)
        if value is None and isinstance(result, Mapping):
            value = result.get(self.attribute)
        return _id_of(value)


@dataclass(frozen=True)
class Argument:
    """A :data:`Locate`: the id is the argument ``name`` (a resource or an id), else
    the first of ``aliases`` given, as an argument (the name an older openstacksdk
    used) or among the keyword attributes (``create_volume_attachment(volume_id=...)``).
    """

    name: str
    aliases: tuple[str, ...] = ()

    def __call__(self, arguments: Mapping[str, Any], result: Any) -> str | None:
        names = (self.name, *self.aliases)
        for key in names:
            if arguments.get(key) is not None:
                return _id_of(arguments[key])
        extra = keyword_attributes(arguments)
        for key in names:
            if extra.get(key) is not None:
                return _id_of(extra[key])
        return None


#: The metadata key (or the tag's prefix, ``osfutures_op=<id>``) that carries a journal
#: operation's id on what its create makes.
OP_KEY = "osfutures_op"


@dataclass(frozen=True)
class Carries:
    """Where a create carries its journal operation's id: the argument ``argument``,
    a metadata mapping (the key :data:`OP_KEY`) or a list of tags (the tag
    ``osfutures_op=<op id>``); and how the objects of its kind are listed to find it
    again (``lists``: the proxy's listing method, with ``details``).

    Attributes:
        argument: ``"metadata"`` or ``"tags"``.
        lists: the proxy method listing the kind (``"servers"``).
        details: whether the listing takes ``details=True`` (servers, volumes and
            shares list their metadata only in detail).
        regex_names: the listing's ``name`` filter is a regular expression (Nova's),
            else an exact name.
    """

    argument: str
    lists: str
    details: bool = True
    regex_names: bool = False

    def query(self, name: str | None) -> dict[str, Any]:
        """The listing's arguments that narrow it to objects named ``name`` (the
        operation id itself is matched on what it returns: Nova has no metadata
        filter, and a service that ignores a filter must not mislead)."""
        query: dict[str, Any] = {"details": True} if self.details else {}
        if name:
            query["name"] = f"^{re.escape(name)}$" if self.regex_names else name
        return query

    @property
    def tags(self) -> bool:
        """The id is a tag (else a metadata key)."""
        return self.argument == "tags"

    def value(self, op_id: str) -> str:
        """What the object carries: the metadata value, or the tag."""
        return f"{OP_KEY}={op_id}" if self.tags else op_id

    def merged(self, call: str, given: Any, op_id: str) -> Any:
        """The caller's own metadata or tags (``given``, ``None`` if none) with the
        operation's id added; never replacing one of the caller's.

        Raises:
            ValueError: the caller set ``osfutures_op`` itself (the message names
                the argument), or gave a value of the wrong type.
        """
        where = f"{call}({self.argument}=...)"
        if self.tags:
            tags = [] if given is None else given
            if not isinstance(tags, (list, tuple)) or not all(isinstance(t, str) for t in tags):
                raise ValueError(f"{where}: expected a list of strings, got {given!r}")
            if any(t == OP_KEY or t.startswith(f"{OP_KEY}=") for t in tags):
                raise ValueError(
                    f"{where}: the tag {OP_KEY}=... is osfutures' own (the journal operation"
                    " id a create carries, to find it again after a crash); use another tag"
                )
            return [*tags, self.value(op_id)]
        metadata = {} if given is None else given
        if not isinstance(metadata, Mapping):
            raise ValueError(f"{where}: expected a mapping, got {given!r}")
        if OP_KEY in metadata:
            raise ValueError(
                f"{where}: the key {OP_KEY!r} is osfutures' own (the journal operation id a"
                " create carries, to find it again after a crash); use another key"
            )
        return {**metadata, OP_KEY: op_id}

    def carried(self, obj: Any) -> str | None:
        """The operation id an object of the kind carries, or ``None``."""
        found = getattr(obj, self.argument, None)
        if found is None and isinstance(obj, Mapping):
            found = obj.get(self.argument)
        if self.tags:
            prefix = f"{OP_KEY}="
            tag = next(
                (t for t in found or () if isinstance(t, str) and t.startswith(prefix)), None
            )
            return None if tag is None else tag[len(prefix) :]
        value = found.get(OP_KEY) if isinstance(found, Mapping) else None
        return value if isinstance(value, str) else None


def keyword_attributes(arguments: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``**attrs`` of a call's bound arguments (``create_server(name=...)``)."""
    return next((v for v in arguments.values() if isinstance(v, dict)), {})


def returned(attribute: str = "id") -> Returned:
    """The id is ``result.<attribute>`` (creations)."""
    return Returned(attribute)


def argument(name: str, *aliases: str) -> Argument:
    """The id is the argument ``name``, else one of ``aliases`` (see :class:`Argument`)."""
    return Argument(name, aliases)


@dataclass(frozen=True)
class OperationSpec:
    """How one call's background work is watched.

    Attributes:
        service: the connection attribute of the proxy (``"compute"``).
        call: the proxy method (``"create_server"``).
        kind: the kind of object watched (a key of :data:`~osfutures.openstack.kinds.KINDS`).
        locate: where the watched object's id comes from.
        target: the states of success; empty for deletions (success is "gone").
        pending: the states expected on the way; with it, a settled object in any
            other state fails the operation instead of waiting for the deadline.
        failure: the states of failure.
        creates: the call creates the watched object and returns it: the returned
            object can be judged at once, and a failed attempt leaves it behind
            (see :meth:`leaves_behind`).
        new_unless: the call makes a new object, which a failed attempt leaves
            behind, unless this argument names an existing one to work on
            (``restore_backup`` restores onto a new volume unless given ``volume``).
        target_from: for calls whose target depends on an argument (baremetal
            provision states), computes it from the bound arguments.
        confirm: a failure may leave the object in a target state (a failed live
            migration leaves the server ACTIVE where it was): success is believed
            once the service's record of the call says it did not fail.
        carries: where the create carries its journal operation's id (its metadata
            or tags), or ``None``: with a journal, a create whose answer was lost is
            found there and adopted by :func:`osfutures.resume`.
    """

    service: str
    call: str
    kind: str
    locate: Locate
    target: frozenset[str] = frozenset()
    pending: frozenset[str] = frozenset()
    failure: frozenset[str] = frozenset()
    creates: bool = False
    new_unless: str | None = None
    target_from: Callable[[Mapping[str, Any]], frozenset[str]] | None = field(default=None)
    confirm: bool = False
    carries: Carries | None = None

    @property
    def deletes(self) -> bool:
        """True when success is the object's disappearance."""
        return not self.target and self.target_from is None

    def passed(self, arguments: Mapping[str, Any]) -> Any:
        """The watched object as the caller passed it (a resource or an id), or
        ``None`` when the call returns it."""
        return arguments.get(self.locate.name) if isinstance(self.locate, Argument) else None

    def leaves_behind(self, arguments: Mapping[str, Any]) -> bool:
        """Whether these arguments make a new object: a "not found" right after the
        call may be the cloud catching up (eventual consistency), and a failed
        attempt leaves the object behind, which ``_async_r`` deletes (and waits on
        until gone) before relaunching."""
        if self.new_unless is not None:
            return arguments.get(self.new_unless) is None
        return self.creates

    def states(self, arguments: Mapping[str, Any]) -> States:
        """The state sets for this call's arguments.

        Raises:
            ValueError: the arguments ask for an outcome the table does not know
                (e.g. an unknown baremetal provision verb).
        """
        target = self.target_from(arguments) if self.target_from else self.target
        return States.of(target, self.pending, self.failure, allow_no_target=self.deletes)


def _states(text: str) -> frozenset[str]:
    return frozenset(state for state in text.split("|") if state)


#: The watched object is the one the call created and returned (a creation: see
#: :attr:`OperationSpec.creates`).
CREATED = returned()


def _row(
    service: str,
    call: str,
    kind: str,
    watched: Locate | str,
    target: str,
    pending: str,
    failure: str,
) -> OperationSpec:
    """One row of the table; ``watched`` is :data:`CREATED`, a locator, or the name
    of the argument holding the object; states are ``|``-separated."""
    return OperationSpec(
        service,
        call,
        kind,
        argument(watched) if isinstance(watched, str) else watched,
        target=_states(target),
        pending=_states(pending),
        failure=_states(failure),
        creates=watched is CREATED,
    )


def _baremetal_target(arguments: Mapping[str, Any]) -> frozenset[str]:
    verb = str(arguments.get("target"))
    expected = baremetal_common.EXPECTED_STATES.get(verb)
    if expected is None:
        raise ValueError(
            f"target: osfutures knows the outcome of {sorted(baremetal_common.EXPECTED_STATES)}"
            f" provision actions, not {verb!r}"
        )
    return frozenset({expected})


_VOLUME_OF_ATTACHMENT = argument("volume", "volume_id")
_RESTORED_VOLUME = returned("volume_id")
# Older openstacksdk releases named the argument share_id.
_SHARE = argument("share", "share_id")
_SHARE_FAILURES = "extending_error|shrinking_error|shrinking_possible_data_loss_error"
# With rollback on, a failed stack goes on to ROLLBACK_*: a poll may never see *_FAILED.
_STACK_FAILED = "%s_FAILED|ROLLBACK_IN_PROGRESS|ROLLBACK_COMPLETE|ROLLBACK_FAILED"
# Where a create carries its operation id: Nova, Cinder and Manila take metadata (a
# string map), Glance and Heat tags (Glance's list also holds extra properties, but a
# tag is what its listing filters on).
_IN_SERVER = Carries("metadata", "servers", regex_names=True)
_IN_VOLUME = Carries("metadata", "volumes")
_IN_IMAGE = Carries("tags", "images", details=False)
_IN_STACK = Carries("tags", "stacks", details=False)
_IN_SHARE = Carries("metadata", "shares")

# An empty target means the operation succeeds when the object is gone (deletions).
# fmt: off
SPECS: tuple[OperationSpec, ...] = (
    # service         call                        kind           watched object         target                pending                              failure
    replace(
    _row("compute", "create_server",            "server",      CREATED,               "ACTIVE",             "",                                  "ERROR"),
        carries=_IN_SERVER),
    _row("compute", "delete_server",            "server",      "server",              "",                   "",                                  "ERROR"),
    _row("compute", "rebuild_server",           "server",      "server",              "ACTIVE|SHUTOFF",     "REBUILD",                           "ERROR"),
    _row("compute", "resize_server",            "server",      "server",              "VERIFY_RESIZE",      "RESIZE",                            "ERROR"),
    _row("compute", "confirm_server_resize",    "server",      "server",              "ACTIVE|SHUTOFF",     "VERIFY_RESIZE",                     "ERROR"),
    _row("compute", "revert_server_resize",     "server",      "server",              "ACTIVE|SHUTOFF",     "VERIFY_RESIZE|REVERT_RESIZE",       "ERROR"),
    _row("compute", "reboot_server",            "server",      "server",              "ACTIVE",             "REBOOT|HARD_REBOOT",                "ERROR"),
    _row("compute", "start_server",             "server",      "server",              "ACTIVE",             "SHUTOFF",                           "ERROR"),
    _row("compute", "stop_server",              "server",      "server",              "SHUTOFF",            "ACTIVE",                            "ERROR"),
    _row("compute", "migrate_server",           "server",      "server",              "VERIFY_RESIZE",      "RESIZE|MIGRATING",                  "ERROR"),
    replace(
    _row("compute", "live_migrate_server",      "server",      "server",              "ACTIVE|PAUSED",      "MIGRATING",                         "ERROR"),
        confirm=True),
    _row("compute", "create_server_image",      "image",       CREATED,               "active",             "",                                  "killed"),
    _row("compute", "create_volume_attachment", "volume",      _VOLUME_OF_ATTACHMENT, "in-use",             "available|reserved|attaching",      "error|error_attaching"),
    _row("compute", "delete_volume_attachment", "volume",      "volume",              "available",          "in-use|detaching",                  "error|error_detaching"),
    replace(
    _row("block_storage", "create_volume",      "volume",      CREATED,               "available",          "",                                  "error"),
        carries=_IN_VOLUME),
    _row("block_storage", "delete_volume",      "volume",      "volume",              "",                   "",                                  "error_deleting"),
    _row("block_storage", "extend_volume",      "volume",      "volume",              "available|in-use",   "extending",                         "error|error_extending"),
    _row("block_storage", "retype_volume",      "volume",      "volume",              "available|in-use",   "retyping",                          "error"),
    _row("block_storage", "create_snapshot",    "snapshot",    CREATED,               "available",          "",                                  "error"),
    _row("block_storage", "delete_snapshot",    "snapshot",    "snapshot",            "",                   "",                                  "error_deleting"),
    _row("block_storage", "create_backup",      "backup",      CREATED,               "available",          "",                                  "error"),
    _row("block_storage", "delete_backup",      "backup",      "backup",              "",                   "",                                  "error"),
    replace(
    _row("block_storage", "restore_backup",     "volume",      _RESTORED_VOLUME,      "available",          "creating|restoring-backup",         "error|error_restoring"),
        new_unless="volume"),
    replace(
    _row("image", "create_image",               "image",       CREATED,               "active",             "",                                  "killed"),
        carries=_IN_IMAGE),
    _row("image", "import_image",               "image",       "image",               "active",             "queued|saving|uploading|importing", "killed"),
    _row("image", "delete_image",               "image",       "image",               "",                   "",                                  ""),
    replace(
    _row("orchestration", "create_stack",       "stack",       CREATED,               "CREATE_COMPLETE",    "",                                  _STACK_FAILED % "CREATE"),
        carries=_IN_STACK),
    _row("orchestration", "update_stack",       "stack",       "stack",               "UPDATE_COMPLETE",    "UPDATE_IN_PROGRESS|CREATE_COMPLETE", _STACK_FAILED % "UPDATE"),
    _row("orchestration", "delete_stack",       "stack",       "stack",               "",                   "",                                  "DELETE_FAILED"),
    _row("load_balancer", "create_load_balancer", "load_balancer", CREATED,           "ACTIVE",             "",                                  "ERROR"),
    _row("load_balancer", "delete_load_balancer", "load_balancer", "load_balancer",   "",                   "",                                  "ERROR"),
    _row("load_balancer", "create_listener",    "listener",    CREATED,               "ACTIVE",             "",                                  "ERROR"),
    _row("load_balancer", "delete_listener",    "listener",    "listener",            "",                   "",                                  "ERROR"),
    _row("load_balancer", "create_pool",        "pool",        CREATED,               "ACTIVE",             "",                                  "ERROR"),
    _row("load_balancer", "delete_pool",        "pool",        "pool",                "",                   "",                                  "ERROR"),
    replace(
    _row("shared_file_system", "create_share",  "share",       CREATED,               "available",          "",                                  "error"),
        carries=_IN_SHARE),
    _row("shared_file_system", "delete_share",  "share",       "share",               "",                   "",                                  "error_deleting"),
    _row("shared_file_system", "resize_share",  "share",       _SHARE,                "available",          "extending|shrinking",               _SHARE_FAILURES),
    OperationSpec("baremetal", "set_node_provision_state", "node", argument("node"),
                  target_from=_baremetal_target,
                  failure=_states("error|deploy failed|clean failed|inspect failed|rescue failed"
                                  "|unrescue failed|adopt failed|service failed")),
)
# fmt: on


def specs_for(service: str) -> dict[str, OperationSpec]:
    """The rows of one service, by call name."""
    return {spec.call: spec for spec in SPECS if spec.service == service}
