"""One scripted sequence of compute calls, run against FakeCloud or a real Nova, recorded
as a normalised transcript; and the comparison of two transcripts.

The sequence (:func:`script`) goes through openstacksdk's compute adapter
(``conn.compute.request``), as a client's calls do: a server's build, shows and listings
during and after each state, every action and the 409 of each in a wrong state, instance
actions, deletion, a build that fails, a member's view, unknown ids and routes, and bad
tokens (those two over plain ``requests``: keystoneauth would authenticate again on a
401).

A step records what a client reads: the status code; the headers
(``x-openstack-request-id`` and ``x-compute-request-id`` as present, equal or not, the
microversion headers, ``Location``, ``Content-Type``); the body with its values
normalised away where they differ by nature (ids, times, hosts, passwords: see
:class:`Normaliser`) and kept where they are the API (statuses, task and vm states,
codes); error messages apart, as *wording*. A poll step records the sequence of
``(status, task_state, vm_state, progress)`` seen while waiting for an operation, repeats
collapsed.

:func:`compare` diffs two transcripts; each difference is then either one of the
deliberate differences of :mod:`osfutures.testing.fakecloud.compute.differences`, or a
failure.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import requests

from osfutures.testing.fakecloud.compute import differences

#: The transcript format; bump it when a change of the script or the normaliser makes
#: old golden files meaningless.
FORMAT = 1
GOLDEN = Path(__file__).resolve().parent / "golden" / "nova-34.json"
VERSION = "2.100"
#: A name that fails its build on both: FakeCloud's default name rule, serve.py's
#: default ``--fail-name``.
FAILING = "diff-fail"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_UUID_RE = re.compile(UUID)
_REQ_RE = re.compile(r"req-" + UUID)
_TIME_RE = re.compile(
    r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?P<fraction>\.\d+)?(?P<zone>Z|[+-]\d\d:\d\d)?"
)
_ORIGIN_RE = re.compile(r"https?://[^/\s\"']+")
#: Values of these keys are the same kind of thing on both sides but never equal.
_BY_KEY = {
    "adminPass": "<password>",
    "OS-EXT-SRV-ATTR:instance_name": "<instance-name>",
    "OS-EXT-SRV-ATTR:reservation_id": "<reservation>",
    "traceback": "<traceback>",
}
_HOST_KEYS = frozenset({"host", "OS-EXT-SRV-ATTR:host", "OS-EXT-SRV-ATTR:hypervisor_hostname"})
#: Keys whose text is wording: compared apart from the rest.
WORDING_KEYS = frozenset({"message", "details"})


class Target(Protocol):
    """What the script needs of a cloud."""

    name: str
    image_id: str
    #: The compute endpoint (``http://host:port/v2.1``) and the root its bookmark links
    #: use, both without a trailing slash.
    endpoint: str
    bookmark_root: str
    #: the image service endpoint Nova builds image links on.
    image_endpoint: str
    #: user and project ids of the ``admin`` and ``member`` callers.
    principals: Mapping[str, tuple[str, str]]
    #: a valid token of each caller, for the calls sent with hand-made headers.
    tokens: Mapping[str, str]

    def request(
        self, who: str, method: str, path: str, body: Any, version: str | None
    ) -> requests.Response:
        """Send one compute call as ``who`` (``admin`` or ``member``) through
        openstacksdk's compute adapter."""

    def raw(self, method: str, path: str, headers: Mapping[str, str]) -> requests.Response:
        """Send one call with exactly these headers (no token unless given)."""

    def tick(self) -> None:
        """Let a little time pass between two polls."""

    def settle(self, seconds: float) -> None:
        """Let ``seconds`` pass."""

    def polls_left(self, started: float) -> bool:
        """Whether a poll begun at ``started`` (:meth:`clock`) may go on."""

    def clock(self) -> float:
        """The target's time, for :meth:`polls_left`."""


@dataclass
class Step:
    """One recorded step of a transcript."""

    name: str
    request: str
    record: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"step": self.name, "request": self.request, **self.record}


@dataclass
class Normaliser:
    """Replaces what differs by nature between two clouds with placeholders.

    Servers become ``<server:LABEL>`` by the label the script gave them, request ids
    ``<request:STEP>`` by the step whose answer carried them, the boot image
    ``<image>``; other UUIDs ``<uuid>``; times ``<time>`` with their form kept
    (``<time:Z>`` whole seconds with a Z, ``<time.f>`` naive with a fraction); the
    endpoint ``<compute>`` and the bookmark root ``<root>``; hosts ``<host>``, host ids
    ``<hostId>``; callers' ids ``<user:admin>``, ``<project:member>``.
    """

    target: Target
    servers: dict[str, str] = field(default_factory=dict)
    request_ids: dict[str, str] = field(default_factory=dict)

    def text(self, value: str) -> str:
        t = self.target
        if value == t.image_id:
            return "<image>"
        prefixes = (
            (t.endpoint, "<compute>"),
            (t.image_endpoint, "<image-endpoint>"),
            (t.bookmark_root, "<root>"),
        )
        for prefix, name in prefixes:
            if value.startswith(prefix + "/") or value == prefix:
                value = name + value[len(prefix) :]
        value = _ORIGIN_RE.sub("<origin>", value)
        value = _REQ_RE.sub(lambda m: f"<request:{self.request_ids.get(m.group(), '?')}>", value)
        value = _UUID_RE.sub(self._uuid, value)
        return _TIME_RE.sub(_time_form, value)

    def _uuid(self, match: re.Match[str]) -> str:
        found = match.group()
        if found in self.servers:
            return f"<server:{self.servers[found]}>"
        return "<image>" if found == self.target.image_id else "<uuid>"

    def leaf(self, key: str | None, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if key in _BY_KEY and value:
            return _BY_KEY[key]
        if key in _HOST_KEYS:
            return "<host>"
        if key == "hostId" and value:
            return "<hostId>"
        if key in ("user_id", "tenant_id", "project_id"):
            for who, (user, project) in self.target.principals.items():
                if value == (user if key == "user_id" else project):
                    return f"<{'user' if key == 'user_id' else 'project'}:{who}>"
            return "<someone>"
        return self.text(value)

    def body(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: self.body(v, k) for k, v in value.items()}
        if isinstance(value, list):
            items = [self.body(v, key) for v in value]
            if key == "servers":
                # Listings of a shared cloud hold others' servers: keep this run's.
                items = [i for i in items if "<server:" in json.dumps(i.get("id", ""))]
            return items
        return self.leaf(key, value)


def _time_form(match: re.Match[str]) -> str:
    """``<time>`` with the form kept: ``.f`` for a fraction, ``:Z`` or ``:+00:00``."""
    zone = match.group("zone")
    fraction = ".f" if match.group("fraction") else ""
    return f"<time{fraction}{':' + zone if zone else ''}>"


def _split_wording(body: Any, path: str = "") -> tuple[Any, dict[str, str]]:
    """Take the wording fields out of a normalised body: (body, {path: text})."""
    wording: dict[str, str] = {}
    if isinstance(body, dict):
        out = {}
        for key, value in body.items():
            here = f"{path}.{key}" if path else key
            if key in WORDING_KEYS and isinstance(value, str):
                wording[here] = value
                out[key] = "<wording>"
            else:
                out[key], more = _split_wording(value, here)
                wording.update(more)
        return out, wording
    if isinstance(body, list):
        items = []
        for index, value in enumerate(body):
            item, more = _split_wording(value, f"{path}[{index}]")
            items.append(item)
            wording.update(more)
        return items, wording
    return body, wording


HEADERS = ("OpenStack-API-Version", "X-OpenStack-Nova-API-Version", "Vary", "Location")


class Run:
    """Runs the script against one target and keeps its transcript."""

    def __init__(self, target: Target, log: Callable[[str], None] | None = None) -> None:
        self.target = target
        self.norm = Normaliser(target)
        self.steps: list[Step] = []
        self.ids: dict[str, str] = {}
        self.actions: dict[str, str] = {}
        self._log = log or (lambda _: None)
        self._names: set[str] = set()

    # -- recording -------------------------------------------------------------------

    def _name(self, name: str) -> str:
        if name in self._names:
            raise ValueError(f"step {name!r} recorded twice")
        self._names.add(name)
        return name

    def path(self, template: str) -> str:
        return template.format(**self.ids)

    def call(
        self,
        name: str,
        method: str,
        template: str,
        body: Any = None,
        *,
        version: str | None = VERSION,
        who: str = "admin",
    ) -> requests.Response:
        """Send a call and record its answer under ``name``."""
        response = self.target.request(who, method, self.path(template), body, version)
        request_id = response.headers.get("x-openstack-request-id")
        if request_id:
            self.norm.request_ids[request_id] = name
        described = f"{method} {template} {version or '-'} {who}"
        self.steps.append(Step(self._name(name), described, self.answer(response)))
        self._log(f"{name}: {response.status_code}")
        return response

    def request_id(self, step: str) -> str:
        """The request id the answer of ``step`` carried."""
        return next(k for k, v in self.norm.request_ids.items() if v == step)

    def raw(self, name: str, method: str, template: str, headers: Mapping[str, str]) -> None:
        """Send a call with these headers alone; a path starting ``/..`` is relative to
        the service's root (above ``/v2.1``)."""
        response = self.target.raw(method, self.path(template), headers)
        described = f"{method} {template} raw {sorted(headers)}"
        self.steps.append(Step(self._name(name), described, self.answer(response)))
        self._log(f"{name}: {response.status_code}")

    def answer(self, response: requests.Response) -> dict[str, Any]:
        headers: dict[str, Any] = {}
        openstack_id = response.headers.get("x-openstack-request-id")
        compute_id = response.headers.get("x-compute-request-id")
        headers["x-openstack-request-id"] = (
            None
            if openstack_id is None
            else "req-<uuid>"
            if _REQ_RE.fullmatch(openstack_id)
            else openstack_id
        )
        headers["x-compute-request-id"] = (
            None
            if compute_id is None
            else "= x-openstack-request-id"
            if compute_id == openstack_id
            else "other"
        )
        for name in HEADERS:
            value = response.headers.get(name)
            headers[name] = None if value is None else self.norm.text(value)
        content_type = response.headers.get("Content-Type")
        headers["Content-Type"] = content_type.split(";")[0].strip() if content_type else None
        authenticate = response.headers.get("WWW-Authenticate")
        headers["WWW-Authenticate"] = (
            None if authenticate is None else re.sub(r'"[^"]*"', '"<uri>"', authenticate)
        )
        record: dict[str, Any] = {"status": response.status_code, "headers": headers}
        text = response.content
        if text:
            try:
                parsed = response.json()
            except ValueError:
                record["body"] = "<not json>"
            else:
                body, wording = _split_wording(self.norm.body(parsed))
                record["body"] = body
                if wording:
                    record["wording"] = wording
        else:
            record["body"] = None
        return record

    # -- polling ---------------------------------------------------------------------

    def poll(
        self,
        name: str,
        label: str,
        done: Callable[[dict[str, Any] | None], bool],
        *,
        before: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any] | None:
        """Poll a server until ``done(server body or None for a 404)``; record the
        sequence of (status, task_state, vm_state, progress) seen, repeats collapsed.

        Args:
            before: stop polling (without ``done``) as soon as this holds; the step
                then ends there (to act while a state lasts).
        """
        seen: list[list[Any]] = []
        started = self.target.clock()
        server: dict[str, Any] | None = None
        first = True
        while True:
            if not first:
                self.target.tick()
            first = False
            response = self.target.request(
                "admin", "GET", f"/servers/{self.ids[label]}", None, VERSION
            )
            if response.status_code == 404:
                server, state = None, ["<404>", None, None, None]
            else:
                response.raise_for_status()
                server = response.json()["server"]
                state = [
                    server["status"],
                    server["OS-EXT-STS:task_state"],
                    server["OS-EXT-STS:vm_state"],
                    server.get("progress", "<absent>"),
                ]
            if not seen or seen[-1] != state:
                seen.append(state)
            if (before is not None and server is not None and before(server)) or done(server):
                break
            if not self.target.polls_left(started):
                seen.append(["<gave up>", None, None, None])
                break
        self.steps.append(Step(self._name(name), f"poll {label}", {"states": seen}))
        self._log(f"{name}: {' > '.join(str(s[:2]) for s in seen)}")
        return server

    # -- the transcript --------------------------------------------------------------

    def transcript(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "target": self.target.name,
            "steps": [step.as_json() for step in self.steps],
        }


def settled(status: str) -> Callable[[dict[str, Any] | None], bool]:
    """``done`` for a poll: the server shows ``status`` with no task running."""

    def done(server: dict[str, Any] | None) -> bool:
        return (
            server is not None
            and server["status"] == status
            and server["OS-EXT-STS:task_state"] is None
        )

    return done


def gone(server: dict[str, Any] | None) -> bool:
    return server is None


def _boot(name: str, image_id: str) -> dict[str, Any]:
    return {"server": {"name": name, "imageRef": image_id, "flavorRef": "1", "networks": "none"}}


def script(run: Run) -> None:
    """The scripted sequence. It never branches on what a cloud answers, so two runs
    record the same steps; only how long each poll lasts depends on the cloud."""
    t = run.target
    no_such = "0d5ee4b2-31e5-4d4e-b0c2-6a5c1a2c1d8e"
    run.ids["none"] = no_such

    # -- documents, flavors, unknown ids and routes, tokens
    run.call("version document", "GET", "/")
    run.call("version document by POST", "POST", "/", {})
    run.raw("versions", "GET", "/../", {"Accept": "application/json"})
    run.raw("versions by DELETE", "DELETE", "/../", {"Accept": "application/json"})
    run.raw("version 2.0 document", "GET", "/../v2/", {"Accept": "application/json"})
    run.call("flavors", "GET", "/flavors")
    run.call("flavor", "GET", "/flavors/1")
    run.call("flavor unknown", "GET", "/flavors/no-such-flavor")
    run.call("server unknown", "GET", "/servers/{none}")
    run.call("server unknown at 2.1", "GET", "/servers/{none}", version="2.1")
    run.call("server unknown delete", "DELETE", "/servers/{none}")
    run.call("server unknown action", "POST", "/servers/{none}/action", {"os-stop": None})
    run.call("path unknown", "GET", "/no-such-path")
    run.raw(
        "path unknown accepting anything",
        "GET",
        "/no-such-path",
        {"X-Auth-Token": t.tokens["admin"], "Accept": "*/*"},
    )
    run.call("method unrouted PATCH servers", "PATCH", "/servers", {})
    run.call("method unrouted PUT server", "PUT", "/servers/{none}/action", {})
    run.call("method unrouted DELETE servers", "DELETE", "/servers")
    run.call("method unrouted GET action", "GET", "/servers/{none}/action")
    run.call("method unrouted HEAD servers", "HEAD", "/servers")
    run.call("method unrouted HEAD flavor", "HEAD", "/flavors/1")
    run.call("version unsupported", "GET", "/servers", version="2.999")
    run.call("version malformed", "GET", "/servers", version="compute two")
    run.raw("token bad", "GET", "/servers", {"X-Auth-Token": "no-such-token"})
    run.raw("token missing", "GET", "/servers", {})
    run.raw("token bad unknown path", "GET", "/no-such-path", {"X-Auth-Token": "no-such-token"})

    # -- create refusals
    image = t.image_id
    run.call(
        "create without name",
        "POST",
        "/servers",
        {"server": {"imageRef": image, "flavorRef": "1", "networks": "none"}},
    )
    run.call(
        "create without networks",
        "POST",
        "/servers",
        {"server": {"name": "x", "imageRef": image, "flavorRef": "1"}},
    )
    bad_flavor = _boot("x", image)
    bad_flavor["server"]["flavorRef"] = "no-such-flavor"
    run.call("create unknown flavor", "POST", "/servers", bad_flavor)
    bad_image = _boot("x", image)
    bad_image["server"]["imageRef"] = no_such
    run.call("create unknown image", "POST", "/servers", bad_image)
    run.call("create malformed", "POST", "/servers", {"servers": {}})

    # -- a build, acted on while it is still a build request, then while it spawns
    created = run.call("create", "POST", "/servers", _boot("diff-a", image))
    server_id = created.json()["server"]["id"]
    run.ids["a"] = server_id
    run.norm.servers[server_id] = "a"
    run.call("stop while a build request", "POST", "/servers/{a}/action", {"os-stop": None})
    run.call(
        "reboot while a build request", "POST", "/servers/{a}/action", {"reboot": {"type": "SOFT"}}
    )
    run.call("show while a build request", "GET", "/servers/{a}")
    run.call("list while a build request", "GET", "/servers")
    run.call(
        "list changes-since later while a build request",
        "GET",
        "/servers?changes-since=2999-01-01T00:00:00Z",
    )
    run.call(
        "list changes-before earlier while a build request",
        "GET",
        "/servers/detail?changes-before=2000-01-01T00:00:00Z",
    )
    run.poll(
        "build until spawning",
        "a",
        settled("ACTIVE"),
        before=lambda s: s["OS-EXT-STS:task_state"] == "spawning",
    )
    run.call("stop while spawning", "POST", "/servers/{a}/action", {"os-stop": None})
    run.call(
        "reboot hard while spawning", "POST", "/servers/{a}/action", {"reboot": {"type": "HARD"}}
    )
    run.poll("build", "a", settled("ACTIVE"))
    shown = run.call("show active", "GET", "/servers/{a}").json()["server"]
    run.call("show active at 2.1", "GET", "/servers/{a}", version="2.1")
    run.call("show active with no microversion", "GET", "/servers/{a}", version=None)
    run.call("show active as member", "GET", "/servers/{a}", who="member")
    run.call("list active", "GET", "/servers")
    run.call("list detail active", "GET", "/servers/detail")
    updated = shown["updated"]
    run.call("list changes-since its updated", "GET", f"/servers/detail?changes-since={updated}")
    run.call("list changes-before its updated", "GET", f"/servers/detail?changes-before={updated}")
    run.call("list changes-since after", "GET", "/servers?changes-since=2999-01-01T00:00:00Z")
    run.call("list changes-since malformed", "GET", "/servers?changes-since=yesterday")
    run.call("list status ACTIVE", "GET", "/servers?status=ACTIVE")
    run.call("list status unknown", "GET", "/servers?status=NO-SUCH")
    run.call("list limit 1", "GET", "/servers?limit=1")
    run.call("list marker unknown", "GET", "/servers?marker={none}")

    # -- wrong states while ACTIVE
    for action, body in (
        ("confirmResize", {"confirmResize": None}),
        ("revertResize", {"revertResize": None}),
        ("os-start", {"os-start": None}),
    ):
        run.call(f"{action} while active", "POST", "/servers/{a}/action", body)
    run.call("unknown action", "POST", "/servers/{a}/action", {"no-such-action": None})
    run.call("reboot without type", "POST", "/servers/{a}/action", {"reboot": {}})
    run.call(
        "resize unknown flavor",
        "POST",
        "/servers/{a}/action",
        {"resize": {"flavorRef": "no-such-flavor"}},
    )
    run.call("resize same flavor", "POST", "/servers/{a}/action", {"resize": {"flavorRef": "1"}})

    # -- stop, and the refusals of a stopped server
    run.call("stop", "POST", "/servers/{a}/action", {"os-stop": None})
    run.poll("stopping", "a", settled("SHUTOFF"))
    run.call("show stopped", "GET", "/servers/{a}")
    run.call("list status SHUTOFF", "GET", "/servers?status=SHUTOFF")
    run.call("os-stop while stopped", "POST", "/servers/{a}/action", {"os-stop": None})
    run.call(
        "reboot soft while stopped", "POST", "/servers/{a}/action", {"reboot": {"type": "SOFT"}}
    )
    run.call(
        "os-migrateLive while stopped",
        "POST",
        "/servers/{a}/action",
        {"os-migrateLive": {"host": None, "block_migration": "auto"}},
    )
    run.call("start", "POST", "/servers/{a}/action", {"os-start": None})
    run.poll("starting", "a", settled("ACTIVE"))

    # -- reboots
    run.call("reboot soft", "POST", "/servers/{a}/action", {"reboot": {"type": "SOFT"}})
    run.poll("rebooting soft", "a", settled("ACTIVE"))
    run.call("reboot hard", "POST", "/servers/{a}/action", {"reboot": {"type": "HARD"}})
    run.poll("rebooting hard", "a", settled("ACTIVE"))

    # -- resize, the refusals of VERIFY_RESIZE, revert; resize again, confirm
    run.call("resize", "POST", "/servers/{a}/action", {"resize": {"flavorRef": "2"}})
    run.poll("resizing", "a", settled("VERIFY_RESIZE"))
    run.call("show resized", "GET", "/servers/{a}")
    for action, body in (
        ("reboot hard", {"reboot": {"type": "HARD"}}),
        ("resize", {"resize": {"flavorRef": "3"}}),
        ("createImage", {"createImage": {"name": "diff-snap"}}),
        ("rebuild", {"rebuild": {"imageRef": image}}),
        ("migrate", {"migrate": None}),
        ("os-stop", {"os-stop": None}),
    ):
        run.call(f"{action} while resized", "POST", "/servers/{a}/action", body)
    run.call("revertResize", "POST", "/servers/{a}/action", {"revertResize": None})
    run.poll("reverting resize", "a", settled("ACTIVE"))
    run.call("show reverted", "GET", "/servers/{a}")
    run.call("resize again", "POST", "/servers/{a}/action", {"resize": {"flavorRef": "2"}})
    run.poll("resizing again", "a", settled("VERIFY_RESIZE"))
    run.call("confirmResize", "POST", "/servers/{a}/action", {"confirmResize": None})
    run.poll("confirming resize", "a", settled("ACTIVE"))
    run.call("show resize confirmed", "GET", "/servers/{a}")

    # -- cold migration, confirmed
    run.call("migrate", "POST", "/servers/{a}/action", {"migrate": None})
    run.poll("migrating", "a", settled("VERIFY_RESIZE"))
    run.call("confirm migration", "POST", "/servers/{a}/action", {"confirmResize": None})
    run.poll("confirming migration", "a", settled("ACTIVE"))

    # -- snapshots, at 2.100 (an image id in the body) and 2.1 (a Location)
    run.call("createImage", "POST", "/servers/{a}/action", {"createImage": {"name": "diff-s1"}})
    run.poll("snapshotting", "a", settled("ACTIVE"))
    run.call(
        "createImage at 2.1",
        "POST",
        "/servers/{a}/action",
        {"createImage": {"name": "diff-s2"}},
        version="2.1",
    )
    run.poll("snapshotting at 2.1", "a", settled("ACTIVE"))

    # -- rebuilds, at 2.100 and at 2.1 (Nova's short answer)
    run.call("rebuild", "POST", "/servers/{a}/action", {"rebuild": {"imageRef": image}})
    run.poll("rebuilding", "a", settled("ACTIVE"))
    run.call(
        "rebuild at 2.1",
        "POST",
        "/servers/{a}/action",
        {"rebuild": {"imageRef": image}},
        version="2.1",
    )
    run.poll("rebuilding at 2.1", "a", settled("ACTIVE"))
    run.call(
        "rebuild unknown image", "POST", "/servers/{a}/action", {"rebuild": {"imageRef": no_such}}
    )

    # -- live migration
    run.call(
        "os-migrateLive",
        "POST",
        "/servers/{a}/action",
        {"os-migrateLive": {"host": None, "block_migration": "auto"}},
    )
    run.poll("live migrating", "a", settled("ACTIVE"))
    run.call("show after everything", "GET", "/servers/{a}")

    # -- instance actions, once every operation has had time to record its end
    t.settle(2)
    run.call("instance actions", "GET", "/servers/{a}/os-instance-actions")
    run.call("instance actions at 2.1", "GET", "/servers/{a}/os-instance-actions", version="2.1")
    run.call("instance actions limit 2", "GET", "/servers/{a}/os-instance-actions?limit=2")
    run.call("instance actions bad parameter", "GET", "/servers/{a}/os-instance-actions?no-such=1")
    run.call("instance actions of an unknown server", "GET", "/servers/{none}/os-instance-actions")
    for step in (
        "create",
        "stop",
        "start",
        "reboot soft",
        "resize",
        "revertResize",
        "confirmResize",
        "migrate",
        "createImage",
        "rebuild",
        "os-migrateLive",
    ):
        request_id = run.request_id(step)
        run.ids["request"] = request_id
        run.call(f"instance action {step}", "GET", "/servers/{a}/os-instance-actions/{request}")
    run.call("instance action unknown", "GET", "/servers/{a}/os-instance-actions/req-" + no_such)
    run.ids["request"] = run.request_id("stop")
    run.call(
        "instance action stop at 2.1",
        "GET",
        "/servers/{a}/os-instance-actions/{request}",
        version="2.1",
    )
    run.call(
        "instance action stop as member",
        "GET",
        "/servers/{a}/os-instance-actions/{request}",
        who="member",
    )

    # -- a build no host takes: forced onto a host that does not exist (NoValidHost)
    nowhere = _boot("x", image)
    nowhere["server"]["availability_zone"] = "nowhere"
    run.call("create in an unknown zone", "POST", "/servers", nowhere)
    forced = _boot("diff-n", image)
    forced["server"]["availability_zone"] = "nova:no-such-host"
    run.call("member create on a forced host", "POST", "/servers", forced, who="member")
    lost = run.call("create on no host", "POST", "/servers", forced)
    run.ids["n"] = lost.json()["server"]["id"]
    run.norm.servers[run.ids["n"]] = "n"
    run.call("show no host while a build request", "GET", "/servers/{n}")
    run.poll("build on no host", "n", settled("ERROR"))
    run.call("show no host", "GET", "/servers/{n}")
    run.call("show no host at 2.1", "GET", "/servers/{n}", version="2.1")
    run.call("show no host as member", "GET", "/servers/{n}", who="member")
    run.call("os-start on no host", "POST", "/servers/{n}/action", {"os-start": None})
    run.call("os-stop on no host", "POST", "/servers/{n}/action", {"os-stop": None})
    run.call("resize on no host", "POST", "/servers/{n}/action", {"resize": {"flavorRef": "2"}})
    t.settle(1)
    run.call("instance actions no host", "GET", "/servers/{n}/os-instance-actions")
    run.ids["request"] = run.request_id("create on no host")
    run.call("instance action no host create", "GET", "/servers/{n}/os-instance-actions/{request}")
    run.call("delete no host", "DELETE", "/servers/{n}")
    run.poll("deleting no host", "n", gone)

    # -- a build that fails on its host by name: FakeCloud's name rule ("fail"), serve.py's
    # --fail-name (its default, "fail")
    failed = run.call("create failing", "POST", "/servers", _boot(FAILING, image))
    run.ids["f"] = failed.json()["server"]["id"]
    run.norm.servers[run.ids["f"]] = "f"
    run.poll("build failing", "f", settled("ERROR"))
    run.call("show error", "GET", "/servers/{f}")
    run.call("list status ERROR", "GET", "/servers/detail?status=ERROR")
    run.call("os-start while error", "POST", "/servers/{f}/action", {"os-start": None})
    run.call("resize while error", "POST", "/servers/{f}/action", {"resize": {"flavorRef": "2"}})
    t.settle(1)
    run.call("instance actions error", "GET", "/servers/{f}/os-instance-actions")
    run.ids["request"] = run.request_id("create failing")
    run.call("instance action error create", "GET", "/servers/{f}/os-instance-actions/{request}")
    run.call("delete error", "DELETE", "/servers/{f}")
    run.poll("deleting error", "f", gone)

    # -- a member's server
    mine = run.call("member create", "POST", "/servers", _boot("diff-m", image), who="member")
    run.ids["m"] = mine.json()["server"]["id"]
    run.norm.servers[run.ids["m"]] = "m"
    run.poll("member build", "m", settled("ACTIVE"))
    run.call("member show", "GET", "/servers/{m}", who="member")
    run.call("member list detail", "GET", "/servers/detail", who="member")
    run.call("member show of the admin's server", "GET", "/servers/{a}", who="member")
    run.call("member stop", "POST", "/servers/{m}/action", {"os-stop": None}, who="member")
    run.poll("member stopping", "m", settled("SHUTOFF"))
    run.call("member list deleted", "GET", "/servers?status=DELETED", who="member")
    run.call("member delete", "DELETE", "/servers/{m}", who="member")
    run.poll("member deleting", "m", gone)

    # -- deletion
    before_delete = shown["created"]
    run.call("delete", "DELETE", "/servers/{a}")
    # (Not a second DELETE at once: on Nova it races the compute host's last save, and
    # the deleted server may keep task_state "deleting".)
    run.poll("deleting", "a", gone)
    run.call("delete deleted", "DELETE", "/servers/{a}")
    run.call("show deleted", "GET", "/servers/{a}")
    run.call("list after delete", "GET", "/servers")
    run.call("list deleted changes-since", "GET", f"/servers/detail?changes-since={before_delete}")
    run.call("list status DELETED", "GET", "/servers?status=DELETED")
    run.call("action on deleted", "POST", "/servers/{a}/action", {"os-start": None})
    run.call("instance actions of deleted", "GET", "/servers/{a}/os-instance-actions")
    run.call(
        "instance actions of deleted at 2.1",
        "GET",
        "/servers/{a}/os-instance-actions",
        version="2.1",
    )
    run.ids["request"] = run.request_id("delete")
    run.call("instance action delete", "GET", "/servers/{a}/os-instance-actions/{request}")

    # -- a server deleted while it is still a build request
    quick = run.call("create deleted at once", "POST", "/servers", _boot("diff-q", image))
    run.ids["q"] = quick.json()["server"]["id"]
    run.norm.servers[run.ids["q"]] = "q"
    run.call("delete a build request", "DELETE", "/servers/{q}")
    run.poll("build request deleted", "q", gone)
    run.call(
        "instance actions of a deleted build request", "GET", "/servers/{q}/os-instance-actions"
    )


# -- comparison -----------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """One way two transcripts differ.

    Attributes:
        step: the step's name.
        path: where: ``status``, ``headers.Location``, ``body.server.status``,
            ``wording.itemNotFound.message``, ``states``, ``step`` (missing on a side).
        kind: ``status``, ``header``, ``keys`` (a key on one side only), ``value``,
            ``wording``, ``states`` or ``progress`` (of a poll), ``step`` (one side
            lacks the step).
        nova: what the reference shows there.
        fake: what FakeCloud shows there.
    """

    step: str
    path: str
    kind: str
    nova: Any
    fake: Any

    def __str__(self) -> str:
        return (
            f"[{self.kind}] {self.step} @ {self.path}:\n"
            f"    nova: {_short(self.nova)}\n    fake: {_short(self.fake)}"
        )


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) < 400 else text[:400] + "..."


def _diff(step: str, path: str, nova: Any, fake: Any, kind: str) -> Iterator[Difference]:
    if isinstance(nova, dict) and isinstance(fake, dict):
        for key in sorted(set(nova) | set(fake)):
            here = f"{path}.{key}"
            if key not in fake:
                yield Difference(step, here, "keys", nova[key], "<absent>")
            elif key not in nova:
                yield Difference(step, here, "keys", "<absent>", fake[key])
            else:
                yield from _diff(step, here, nova[key], fake[key], kind)
        return
    if isinstance(nova, list) and isinstance(fake, list) and len(nova) == len(fake):
        for index, (n, f) in enumerate(zip(nova, fake, strict=True)):
            yield from _diff(step, f"{path}[{index}]", n, f, kind)
        return
    if nova != fake:
        yield Difference(step, path, kind, nova, fake)


def reduce_states(states: Sequence[Sequence[Any]], poll: str) -> list[list[Any]]:
    """A poll's states without those either cloud may show or skip by timing alone
    (:data:`~osfutures.testing.fakecloud.compute.differences.TRANSIENT`), repeats
    collapsed again."""
    kept: list[list[Any]] = []
    for state in states:
        if differences.transient(poll, tuple(state)):
            continue
        if not kept or kept[-1] != list(state):
            kept.append(list(state))
    return kept


def _collapse(values: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if not out or out[-1] != value:
            out.append(value)
    return out


def _states_differences(name: str, nova: Sequence[Any], fake: Sequence[Any]) -> list[Difference]:
    """A poll's (status, task_state, vm_state) sequence, then its progress values."""
    a, b = reduce_states(nova, name), reduce_states(fake, name)
    found = []
    states_a, states_b = _collapse([s[:3] for s in a]), _collapse([s[:3] for s in b])
    if states_a != states_b:
        found.append(Difference(name, "states", "states", states_a, states_b))
    progress_a, progress_b = _collapse([s[3] for s in a]), _collapse([s[3] for s in b])
    if progress_a != progress_b:
        found.append(Difference(name, "states.progress", "progress", progress_a, progress_b))
    return found


def compare(nova: Mapping[str, Any], fake: Mapping[str, Any]) -> list[Difference]:
    """Every difference between a reference transcript and FakeCloud's."""
    found: list[Difference] = []
    fake_steps = {s["step"]: s for s in fake["steps"]}
    nova_steps = {s["step"]: s for s in nova["steps"]}
    for name, n in nova_steps.items():
        f = fake_steps.get(name)
        if f is None:
            found.append(Difference(name, "step", "step", n["request"], "<absent>"))
            continue
        if "states" in n:
            found += _states_differences(name, n["states"], f.get("states", []))
            continue
        if n["status"] != f["status"]:
            found.append(Difference(name, "status", "status", n["status"], f["status"]))
        found += _diff(name, "headers", n["headers"], f["headers"], "header")
        found += _diff(name, "body", n.get("body"), f.get("body"), "value")
        found += _diff(name, "wording", n.get("wording", {}), f.get("wording", {}), "wording")
    for name in fake_steps.keys() - nova_steps.keys():
        found.append(Difference(name, "step", "step", "<absent>", fake_steps[name]["request"]))
    return found


@dataclass
class Verdict:
    """The differences of a comparison, sorted out."""

    unexplained: list[Difference]
    deliberate: dict[str, list[Difference]]
    #: Deliberate differences that explained nothing this time.
    unused: list[str]

    def report(self, verbose: bool = False) -> str:
        lines = []
        for key, found in sorted(self.deliberate.items()):
            lines.append(f"deliberate {key}: {len(found)} difference(s)")
            if verbose:
                lines += [f"  {d}" for d in found]
        for key in self.unused:
            lines.append(f"deliberate {key}: explained nothing this run")
        wording = [d for d in self.unexplained if d.kind == "wording"]
        hard = [d for d in self.unexplained if d.kind != "wording"]
        if hard:
            lines.append(f"{len(hard)} unexplained difference(s):")
            lines += [str(d) for d in hard]
        if wording:
            lines.append(f"{len(wording)} unexplained wording difference(s):")
            lines += [str(d) for d in wording]
        if not self.unexplained:
            lines.append("no unexplained differences")
        return "\n".join(lines)


def judge(found: Sequence[Difference]) -> Verdict:
    """Sort differences into the deliberate ones (by the entry that explains each) and
    the rest."""
    deliberate: dict[str, list[Difference]] = {}
    unexplained = []
    for difference in found:
        entry = differences.explaining(difference.step, difference.path, difference.kind)
        if entry is None:
            unexplained.append(difference)
        else:
            deliberate.setdefault(entry.key, []).append(difference)
    unused = [e.key for e in differences.DELIBERATE if e.matches and e.key not in deliberate]
    return Verdict(unexplained, deliberate, unused)


# -- targets --------------------------------------------------------------------------


class _Connected:
    """What both targets share: a compute connection per principal and a plain
    session for the requests openstacksdk would not send as written."""

    endpoint: str
    bookmark_root: str
    _conns: dict[str, Any]
    _session: requests.Session

    def request(
        self, who: str, method: str, path: str, body: Any, version: str | None
    ) -> requests.Response:
        return _sdk_request(self._conns[who].compute, method, path, body, version)

    def raw(self, method: str, path: str, headers: Mapping[str, str]) -> requests.Response:
        return self._session.request(method, _url(self, path), headers=dict(headers))


class RealNova(_Connected):
    """A running real Nova (``../shared/realnova/serve.py``), from its url.json."""

    name = "nova"

    def __init__(self, url_file: str | Path, poll_interval: float = 0.01) -> None:
        import openstack

        info = json.loads(Path(url_file).read_text())
        self.endpoint = info["compute_url"].rstrip("/")
        self.bookmark_root = self.endpoint.rsplit("/", 1)[0]
        # Nova's test fixture configures glance at this address (nova.tests.fixtures).
        self.image_endpoint = "http://localhost:9292"
        self.image_id = info["default_image_id"]
        self.principals = {"admin": ("admin", "admin-project"), "member": ("demo", "demo-project")}
        self.tokens = {"admin": "admin-token", "member": "demo-token"}
        self._conns = {
            who: openstack.connect(
                auth_type="admin_token",
                auth={"endpoint": self.endpoint, "token": token},
                compute_endpoint_override=self.endpoint,
            )
            for who, token in self.tokens.items()
        }
        self._interval = poll_interval
        self._session = requests.Session()

    def tick(self) -> None:
        time.sleep(self._interval)

    def settle(self, seconds: float) -> None:
        time.sleep(seconds)

    def clock(self) -> float:
        return time.monotonic()

    def polls_left(self, started: float) -> bool:
        return time.monotonic() - started < 120

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._session.close()


def _url(target: Target, path: str) -> str:
    if path.startswith("/.."):
        return target.bookmark_root + path[3:]
    return target.endpoint + path


def _sdk_request(
    adapter: Any, method: str, path: str, body: Any, version: str | None
) -> requests.Response:
    # openstacksdk's resources ask for JSON; so do these calls.
    kwargs: dict[str, Any] = {"raise_exc": False, "headers": {"Accept": "application/json"}}
    if version is not None and version.startswith("compute "):
        # A header keystoneauth would refuse to send: set it by hand.
        kwargs["headers"]["OpenStack-API-Version"] = version
    elif version is not None:
        kwargs["microversion"] = version
    if body is not None:
        kwargs["json"] = body
    response: requests.Response = adapter.request(path, method, **kwargs)
    return response


class OnFakeCloud(_Connected):
    """A FakeCloud on a manual clock, with the reference's users: an admin and a member
    of another project.

    Durations: a build 10 s, a delete 2 s, other server operations 4 s; each poll moves
    the clock 0.25 s, so every state FakeCloud holds for a quarter of a second or more is
    seen.
    """

    name = "fakecloud"
    TICK = 0.25

    def __init__(self) -> None:
        from osfutures.testing import Credentials, FakeCloud, ManualClock, Scenario, Timing

        scenario = Scenario(
            seed=5,
            default=Timing(duration=4),
            timings={"server.build": Timing(duration=10), "server.delete": Timing(duration=2)},
        )
        users = [
            Credentials(),
            Credentials("demo", "password", "demo", ("member", "reader")),
        ]
        self.cloud = FakeCloud(seed=5, clock=ManualClock(), scenario=scenario, users=users)
        self.cloud.start()
        self.endpoint = f"{self.cloud.base_url}/compute/v2.1"
        self.bookmark_root = f"{self.cloud.base_url}/compute"
        self.image_endpoint = f"{self.cloud.base_url}/image"
        self.image_id = self.cloud.backend("image").default_image_id
        self._conns = {
            "admin": self.cloud.connect(),
            "member": self.cloud.connect(username="demo", project_name="demo"),
        }
        self.principals = {}
        self.tokens = {}
        for who, conn in self._conns.items():
            access = conn.session.auth.get_access(conn.session)
            self.principals[who] = (access.user_id, access.project_id)
            self.tokens[who] = access.auth_token
        self._session = requests.Session()

    def tick(self) -> None:
        self.cloud.advance(self.TICK)

    def settle(self, seconds: float) -> None:
        self.cloud.advance(seconds)

    def clock(self) -> float:
        return self.cloud.clock.now()

    def polls_left(self, started: float) -> bool:
        return self.cloud.clock.now() - started < 120

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._session.close()
        self.cloud.stop()


def record(target: Target, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the script against ``target``; return its transcript."""
    run = Run(target, log)
    script(run)
    return run.transcript()


def load(path: Path = GOLDEN) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: transcript format {data.get('format')}, expected {FORMAT}")
    return data


def save(transcript: Mapping[str, Any], path: Path = GOLDEN) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(transcript, indent=1, sort_keys=False) + "\n")
