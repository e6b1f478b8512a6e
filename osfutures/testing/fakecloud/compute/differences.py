"""Where FakeCloud's compute API answers otherwise than real Nova 34, and why.

The one list of FakeCloud's known, deliberate differences from Nova. The differential
test (``tests/differential``) runs one scripted sequence of compute calls against
FakeCloud and against real Nova (its golden transcript, or a running Nova), and fails on
any difference no entry here explains; the docs' list ("How faithful it is" in
``docs/fakecloud.rst``) is checked against the ``doc`` texts here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Deliberate:
    """One known difference.

    Attributes:
        key: a short name.
        reason: why FakeCloud differs (for maintainers).
        doc: the bullet of the docs' list (reStructuredText).
        steps: a regular expression the names of the differential's steps it explains
            match in full; empty for a difference the differential does not reach.
        paths: a regular expression found in the paths of the differences it explains
            (``status``, ``headers.Location``, ``body.server.progress``, ``states``).
        kinds: the kinds of difference it explains (``status``, ``header``, ``keys``,
            ``value``, ``wording``, ``states``, ``step``); empty for any.
    """

    key: str
    reason: str
    doc: str
    steps: str = ""
    paths: str = ""
    kinds: frozenset[str] = frozenset()

    @property
    def matches(self) -> bool:
        """Whether the differential can meet it."""
        return bool(self.steps)

    def explains(self, step: str, path: str, kind: str) -> bool:
        """Whether this entry explains a difference at ``step``, ``path`` of ``kind``."""
        if not self.steps or re.fullmatch(self.steps, step) is None:
            return False
        if self.kinds and kind not in self.kinds:
            return False
        return re.search(self.paths, path) is not None


@dataclass(frozen=True)
class Transient:
    """States a poll may see or miss by timing alone, on either cloud.

    Attributes:
        polls: a regular expression the names of the poll steps match in full.
        states: ``(status, task_state)`` pairs.
        reason: why they come and go too fast to count.
    """

    polls: str
    states: frozenset[tuple[str, str | None]]
    reason: str


#: FakeCloud's known differences from real Nova 34. ``doc`` texts are the bullets of the
#: compute list in docs/fakecloud.rst ("How faithful it is"), in this order.
DELIBERATE: tuple[Deliberate, ...] = (
    Deliberate(
        key="max-microversion",
        reason="openstacksdk 4.22, the newest client FakeCloud is tested with, negotiates "
        "up to 2.100; the microversions after it change nothing FakeCloud serves.",
        doc="FakeCloud advertises microversions up to 2.100 (openstacksdk 4.22's maximum); "
        "Nova 34 goes to 2.104.",
        steps=r"version document.*|versions.*|version unsupported",
        paths=r"body\.versions?(\[1\])?\.version$|wording\.computeFault\.message",
    ),
    Deliberate(
        key="build-failing-on-its-host",
        reason="A failed build is one no host takes (NoValidHost): the failure most "
        "builds that fail end with, and the one the differential's forced unknown host "
        "shows FakeCloud right on. The reference's --fail-name instead aborts the build "
        "on the compute host once it spawns.",
        doc="A build that fails (by the ``fail`` name rule, or an ``error_rate`` draw) "
        "fails as one no host takes: Nova's ``NoValidHost``. It stays a build request "
        "(``BUILD``, ``scheduling``) until it is buried in cell0 in ``ERROR``, on no "
        "host, with the fault ``No valid host was found. ...`` and the instance action "
        "event ``conductor_schedule_and_build_instances`` in ``Error``. A build that a "
        "compute host aborts (which Nova shows as ``scheduling``, null, ``networking``, "
        "``spawning``, then ``ERROR`` on no host, with a ``Build of instance ... "
        "aborted`` fault and an instance action that says ``Success``) is not modelled.",
        steps=r"build failing|show error|list status ERROR|instance actions? error.*",
        paths=r"^states$|fault|instanceActions?|events|root_device_name",
    ),
    Deliberate(
        key="root-device-name",
        reason="FakeCloud's servers boot on libvirt/KVM, whose virtio root disk is "
        "/dev/vda; the reference's fake virt driver reports /dev/sda.",
        doc="``OS-EXT-SRV-ATTR:root_device_name`` is ``/dev/vda``, as libvirt names a "
        "virtio root disk; Nova's fake driver says ``/dev/sda``.",
        steps=r".*",
        paths=r"OS-EXT-SRV-ATTR:root_device_name$",
        kinds=frozenset({"value"}),
    ),
    Deliberate(
        key="live-migration-progress",
        reason="libvirt reports a live migration's progress (nova/virt/libvirt/"
        "migration.py save_stats: 100 - remaining) and Nova sets it back to 0 when the "
        "migration ends; the reference's fake driver reports none.",
        doc="``progress`` stays 0 through builds, resizes, migrations, snapshots and "
        "rebuilds, as Nova leaves it; during a live migration it moves "
        "``progress_steps`` times, as libvirt reports it, and is 0 again at the end. "
        "Nova's fake driver reports no live migration progress.",
        steps=r"live migrating",
        paths=r"^states\.progress$",
        kinds=frozenset({"progress"}),
    ),
    Deliberate(
        key="reference-flavors",
        reason="The reference's test fixtures add a flavor no deployment has.",
        doc="Flavors are Nova's defaults, 1 to 5; the reference Nova's test fixture adds "
        "a sixth, ``m1.tiny.specs``.",
        steps=r"flavors",
        paths=r"^body\.flavors$",
        kinds=frozenset({"value"}),
    ),
    Deliberate(
        key="tracebacks",
        reason="FakeCloud has no stack to show.",
        doc="An admin's fault ``details`` and an instance action event's ``traceback`` "
        "are one line with the failure's message, not a real stack.",
        steps=r".*",
        paths=r"wording\..*\.(details|traceback)$",
        kinds=frozenset({"wording"}),
    ),
    Deliberate(
        key="event-timing",
        reason="Events are planned one after another over the operation's duration.",
        doc="Instance actions: events run one after another over the operation's "
        "duration where Nova nests some (``cold_migrate`` runs inside "
        "``conductor_migrate_server``); they are listed in Nova's order all the same. A "
        "live migration's ``compute_live_migration`` lasts until it ends, with "
        "``pre_live_migration`` and ``post_live_migration_at_destination`` inside, as in "
        "Nova. The last event, or that enclosing one, fails a failed action. Should a "
        "delete cut another operation short, that operation's action still ends as "
        "planned. Deleting a resized server records no ``confirmResize``.",
    ),
    Deliberate(
        key="list-order-ties",
        reason="FakeCloud keeps full-precision creation times.",
        doc="List order ties: FakeCloud sorts on full-precision ``created``; Nova's "
        "database stores whole seconds, so servers created in the same second are "
        "ordered by id.",
    ),
    Deliberate(
        key="webob-json",
        reason="openstacksdk always asks for JSON; the HTML pages would only make "
        "FakeCloud bigger.",
        doc="webob's own error bodies (the 413, the router's 404 and 405, glance's "
        "errors) come as JSON for ``Accept: */*`` or no Accept header; webob sends its "
        "HTML page, or plain text, for those. openstacksdk always asks for JSON.",
        steps=r"path unknown accepting anything",
        paths=r"^(headers\.Content-Type|body|wording\.message)$",
    ),
    Deliberate(
        key="unrouted-before-token",
        reason="FakeCloud routes before it checks the token; keystonemiddleware stands "
        "before each service's router.",
        doc="A request for a path or method no route takes is answered without checking "
        "its token; the services behind keystonemiddleware answer 401 first. The size "
        "limit judges ``Content-Length`` only: a chunked body is not limited.",
        steps=r"token bad unknown path",
    ),
    Deliberate(
        key="unserved-routes",
        reason="FakeCloud serves what clients waiting on operations use; the rest of the "
        "API answers as an unknown route does.",
        doc="Routes FakeCloud does not serve (a server's update, ``PUT /servers/{id}``; "
        "flavor management; the legacy ``/v2`` API, whose version document it does "
        "serve; the other server actions and resources) answer the router's 404. "
        "``OPTIONS`` is routed like any method; Nova's ``cors`` filter answers every "
        "``OPTIONS`` request 200 with an empty body, before anything else.",
    ),
)

#: States a poll may catch or miss on either cloud: Nova's fake driver does the work
#: between them in milliseconds (a real hypervisor takes longer over some, which is why
#: FakeCloud gives each a share of the operation's duration).
TRANSIENT: tuple[Transient, ...] = (
    Transient(
        r".*build.*",
        frozenset({("BUILD", "networking"), ("BUILD", "block_device_mapping")}),
        "The compute host sets networking then block_device_mapping within "
        "milliseconds: network allocation runs in the background (and does nothing for "
        'networks "none"), and an image boot maps no volume.',
    ),
    Transient(
        r"rebooting.*",
        frozenset(
            {
                ("REBOOT", "reboot_pending"),
                ("REBOOT", "reboot_started"),
                ("HARD_REBOOT", "reboot_pending_hard"),
                ("HARD_REBOOT", "reboot_started_hard"),
            }
        ),
        "The compute host's steps of a reboot; the fake driver reboots at once.",
    ),
    Transient(
        r"resizing.*|migrating",
        frozenset(
            {
                ("RESIZE", "resize_migrating"),
                ("RESIZE", "resize_migrated"),
                ("RESIZE", "resize_finish"),
            }
        ),
        "The fake driver moves no disk: the steps after resize_prep take milliseconds.",
    ),
    Transient(
        r"snapshotting.*",
        frozenset(
            {
                ("ACTIVE", "image_snapshot_pending"),
                ("ACTIVE", "image_snapshot"),
                ("ACTIVE", "image_pending_upload"),
                ("ACTIVE", "image_uploading"),
            }
        ),
        "The fake driver's snapshot writes nothing: it can be over before the first poll, "
        "even the state the API sets.",
    ),
    Transient(
        r"rebuilding.*",
        frozenset({("REBUILD", "rebuild_block_device_mapping"), ("REBUILD", "rebuild_spawning")}),
        "The fake driver spawns a rebuild at once.",
    ),
    Transient(
        r".*deleting.*",
        frozenset(
            {
                ("ACTIVE", "deleting"),
                ("SHUTOFF", "deleting"),
                ("ERROR", "deleting"),
                ("DELETED", None),
            }
        ),
        "The fake driver destroys at once: a delete can be over before the first poll. "
        "Nova shows DELETED to a GET between the compute host's last save of the server "
        "and its destroy, milliseconds later; FakeCloud answers 404 at once.",
    ),
)


def explaining(step: str, path: str, kind: str) -> Deliberate | None:
    """Return the deliberate difference that explains this one, or None."""
    return next((d for d in DELIBERATE if d.explains(step, path, kind)), None)


def transient(poll: str, state: tuple[object, ...]) -> bool:
    """Whether a poll step's ``(status, task_state, ...)`` may come and go by timing."""
    pair = (state[0], state[1])
    return any(re.fullmatch(t.polls, poll) and pair in t.states for t in TRANSIENT)
