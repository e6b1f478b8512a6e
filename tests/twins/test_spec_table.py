"""The spec table tested as a table: every row of SPECS against openstacksdk, the kinds,
the generated docs, and once against FakeCloud."""

from __future__ import annotations

import functools
import importlib.util
import inspect
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import openstack.connection
import pytest

import osfutures
from osfutures.openstack.kinds import KINDS
from osfutures.openstack.specs import SPECS, Argument, OperationSpec, Returned
from osfutures.testing import FakeCloud
from osfutures.testing.fakecloud.scenario import Scenario

#: How long every operation takes: the fast scenario of the other twin tests, shorter,
#: since one call of each row runs after another.
DURATION = 0.1
TWINTABLE = Path(__file__).parents[2] / "docs" / "_ext" / "twintable.py"
#: Services FakeCloud does not serve: their rows are checked, but not run.
UNSERVED = {"baremetal": "FakeCloud serves no baremetal (ironic) API"}
TEMPLATE: dict[str, Any] = {
    "heat_template_version": "2021-04-16",
    "outputs": {"greeting": {"value": "hello"}},
}
SUBNET = "6b4a2d5e-2a8f-4f4f-9c1b-2d7c1e0e7a10"


def _id(spec: OperationSpec) -> str:
    return f"{spec.service}.{spec.call}"


ROWS = [pytest.param(spec, id=_id(spec)) for spec in SPECS]
#: The rows whose failed attempt may leave an object for ``_async_r`` to delete.
LEAVING = [pytest.param(spec, id=_id(spec)) for spec in SPECS if spec.leaves_behind({})]


@functools.cache
def _proxy_class(service: str) -> type:
    """The openstacksdk proxy class of a service, at its newest major version."""
    versions = getattr(openstack.connection.Connection, service).supported_versions
    newest = max(versions, key=lambda v: tuple(int(part) for part in v.split(".")))
    proxy: type = versions[newest]
    return proxy


def _method(service: str, call: str) -> Callable[..., Any]:
    proxy = _proxy_class(service)
    method = getattr(proxy, call, None)
    assert callable(method), f"{proxy.__module__}.{proxy.__name__} has no {call}"
    return method


@functools.cache
def _twintable() -> ModuleType:
    spec = importlib.util.spec_from_file_location("twintable", TWINTABLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lower(states: frozenset[str]) -> frozenset[str]:
    return frozenset(s.lower() for s in states)


# -- the table against openstacksdk and the kinds ------------------------------------


@pytest.mark.parametrize("spec", ROWS)
def test_the_call_exists_and_takes_what_the_locator_reads(spec: OperationSpec) -> None:
    signature = inspect.signature(_method(spec.service, spec.call))
    locate = spec.locate
    if isinstance(locate, Argument):
        assert not spec.creates, "a row that creates watches the object the call returns"
        try:
            signature.bind_partial(**{locate.name: "an-id"})
        except TypeError as error:
            pytest.fail(f"{spec.call}{signature} takes no {locate.name!r}: {error}")
    else:
        assert isinstance(locate, Returned), f"unknown locator {locate!r}"
        returns = signature.return_annotation
        assert isinstance(returns, type) and hasattr(returns, locate.attribute), (
            f"{spec.call} returns {returns!r}, which has no {locate.attribute!r}"
        )
        # Creating is watching the very object returned: its id is the result's id.
        assert spec.creates == (locate == Returned("id"))
    if spec.new_unless is not None:
        assert spec.new_unless in signature.parameters, (
            f"{spec.call}{signature} takes no {spec.new_unless!r}"
        )


@pytest.mark.parametrize("spec", ROWS)
def test_the_kind_is_known_and_its_getter_takes_an_id(spec: OperationSpec) -> None:
    assert spec.kind in KINDS, f"{spec.kind!r} is not a kind of osfutures.openstack.kinds"
    kind = KINDS[spec.kind]
    get = inspect.signature(_method(kind.service, kind.get))
    get.bind(None, "an-id")  # Kind.fetch calls proxy.<get>(resource_id)


@pytest.mark.parametrize("spec", ROWS)
def test_the_states_build(spec: OperationSpec) -> None:
    if spec.target_from is None:
        states = spec.states({})
        assert states.target == _lower(spec.target)
    else:  # baremetal: the target is the state the provision verb leads to
        states = spec.states({"target": "provide"})
        assert states.target == {"available"}
        with pytest.raises(ValueError, match=r"^target: .*'explode'"):
            spec.states({"target": "explode"})
    assert states.pending == _lower(spec.pending)
    assert states.failure == _lower(spec.failure)
    assert spec.deletes == (not states.target)


@pytest.mark.parametrize("spec", LEAVING)
def test_what_a_failed_attempt_leaves_has_a_delete_row(spec: OperationSpec) -> None:
    # connection._cleanup picks the first delete row of the kind, and starts it with
    # the leftover's id as its only argument.
    delete = next((s for s in SPECS if s.kind == spec.kind and s.deletes), None)
    assert delete is not None, f"no delete row for {spec.kind}, which {spec.call} may leave"
    bound = inspect.signature(_method(delete.service, delete.call)).bind(None, "leftover")
    assert delete.locate(bound.arguments, None) == "leftover"


def test_only_creations_and_restores_leave_an_object() -> None:
    restore = next(s for s in SPECS if s.call == "restore_backup")
    assert restore.leaves_behind({}) and not restore.leaves_behind({"volume": "v"})
    assert not restore.creates  # the call returns the backup, not the volume watched
    leaving = {s.call for s in SPECS if s.leaves_behind({})}
    assert leaving == {s.call for s in SPECS if s.creates} | {"restore_backup"}


def test_the_private_baremetal_table_the_row_reads() -> None:
    where = "openstack.baremetal.v1._common.EXPECTED_STATES"
    why = "the set_node_provision_state row of osfutures/openstack/specs.py reads it"
    try:
        from openstack.baremetal.v1 import _common

        expected = _common.EXPECTED_STATES
    except (ImportError, AttributeError) as error:
        pytest.fail(f"openstacksdk no longer has {where} ({error}); {why}")
    known = {"provide": "available", "manage": "manageable", "active": "active"}
    if not (
        isinstance(expected, Mapping)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in expected.items())
        and known.items() <= expected.items()
    ):
        pytest.fail(f"{where} is no longer a verb -> state mapping like {known}: {expected!r}")
    spec = next(s for s in SPECS if s.call == "set_node_provision_state")
    for verb, state in expected.items():
        assert spec.states({"target": verb}).target == {state.lower()}


# -- the table against the generated docs ----------------------------------------------


def test_the_docs_table_has_one_line_per_row() -> None:
    table = _twintable()
    assert [line[:2] for line in table.rows()] == [
        (s.service, f"{s.call}_async / _async_r") for s in SPECS
    ]


@pytest.mark.parametrize("spec", ROWS)
def test_the_docs_line_says_what_the_row_says(spec: OperationSpec) -> None:
    table = _twintable()
    cells = dict(zip(table.HEADERS, table.row(spec), strict=True))
    assert cells["resolves with"].startswith(f"the {spec.kind.replace('_', ' ')}")
    if spec.deletes:
        assert cells["success"] == "gone"
    elif spec.target_from is not None:
        assert "provision" in cells["success"]
    else:
        assert set(cells["success"].split(", ")) == spec.target
    assert cells["failure"] == (", ".join(sorted(spec.failure)) or "-")
    cleanup = cells["retry cleans up"]
    if spec.new_unless is not None:
        assert cleanup.startswith(table.CLEANUP) and f"when {spec.new_unless} " in cleanup
        assert spec.leaves_behind({}) and not spec.leaves_behind({spec.new_unless: "x"})
    elif spec.leaves_behind({}):
        assert cleanup == table.CLEANUP
    else:
        assert cleanup == "-"


# -- the table against FakeCloud -------------------------------------------------------


@dataclass(frozen=True)
class Env:
    conn: osfutures.AsyncConnection
    boot: dict[str, Any]
    other_flavor: str
    other_type: str
    #: manila's extend/shrink actions are 2.7's; openstacksdk sends no microversion
    #: of its own for them, so the connection must ask for one.
    manila_2_7: osfutures.AsyncConnection

    @property
    def compute(self) -> Any:
        return self.conn.compute

    @property
    def volumes(self) -> Any:
        return self.conn.block_storage

    @property
    def lbs(self) -> Any:
        return self.conn.load_balancer


@pytest.fixture(scope="module")
def table_cloud() -> Iterator[FakeCloud]:
    with FakeCloud(seed=7, scenario=Scenario.fast(seed=7, duration=DURATION)) as c:
        yield c


@pytest.fixture(scope="module")
def env(table_cloud: FakeCloud) -> Iterator[Env]:
    monitor = osfutures.Monitor(default_interval=DURATION / 2, max_probes_per_second=None, seed=3)
    conn = osfutures.wrap(table_cloud.connect(), monitor=monitor)
    flavors = [f.id for f in conn.compute.flavors()]
    image = next(iter(conn.image.images())).id
    default_type = next(iter(conn.block_storage.types())).name
    yield Env(
        conn=conn,
        boot={"flavor_id": flavors[0], "image_id": image, "networks": "none"},
        other_flavor=flavors[1],
        other_type=next(t.name for t in conn.block_storage.types() if t.name != default_type),
        manila_2_7=osfutures.wrap(
            table_cloud.connect(shared_file_system_default_microversion="2.7"), monitor=monitor
        ),
    )
    monitor.shutdown(cancel_futures=True)


# What each row needs before its call (made for all rows at once, each its own), by
# the name it is given.


def _server(e: Env, name: str) -> Any:
    return e.compute.create_server_async(name=name, **e.boot)


def _resized(e: Env, name: str) -> Any:
    return _server(e, name).next(lambda vm: e.compute.resize_server_async(vm, e.other_flavor))


def _stopped(e: Env, name: str) -> Any:
    return _server(e, name).next(e.compute.stop_server_async)


def _volume(e: Env, name: str) -> Any:
    return e.volumes.create_volume_async(size=1, name=name)


def _snapshot(e: Env, name: str) -> Any:
    return _volume(e, name).next(
        lambda v: e.volumes.create_snapshot_async(volume_id=v.id, name=name)
    )


def _backup(e: Env, name: str) -> Any:
    return _volume(e, name).next(lambda v: e.volumes.create_backup_async(volume_id=v.id, name=name))


def _server_and_volume(e: Env, name: str) -> Any:
    volume = _volume(e, name)
    return _server(e, name).next(lambda vm: volume.next(lambda v: (vm, v)))


def _attached(e: Env, name: str) -> Any:
    return _server_and_volume(e, name).next(
        lambda pair: e.compute.create_volume_attachment_async(pair[0], volume=pair[1]).next(
            lambda v: (pair[0], v)
        )
    )


def _image(e: Env, name: str) -> Any:
    return e.conn.image.create_image_async(
        name=name, data=b"x" * 100, disk_format="qcow2", container_format="bare"
    )


def _queued_image(e: Env, name: str) -> Any:
    return e.conn.image.create_image(name=name, disk_format="qcow2", container_format="bare")


def _stack(e: Env, name: str) -> Any:
    return e.conn.orchestration.create_stack_async(name=name, template=TEMPLATE)


def _load_balancer(e: Env, name: str) -> Any:
    return e.lbs.create_load_balancer_async(name=name, vip_subnet_id=SUBNET)


def _listener(e: Env, name: str) -> Any:
    return _load_balancer(e, name).next(
        lambda lb: e.lbs.create_listener_async(
            name=name, load_balancer_id=lb.id, protocol="HTTP", protocol_port=80
        )
    )


def _pool(e: Env, name: str) -> Any:
    return _listener(e, name).next(
        lambda li: e.lbs.create_pool_async(
            name=name, listener_id=li.id, protocol="HTTP", lb_algorithm="ROUND_ROBIN"
        )
    )


def _share(e: Env, name: str) -> Any:
    return e.conn.shared_file_system.create_share_async(name=name, size=1, share_proto="NFS")


def _nothing(e: Env, name: str) -> None:
    return None


Launch = Callable[[Env, Any], Any]


@dataclass(frozen=True)
class Case:
    """How to run one row: what to make first, then its ``_async`` call on that."""

    launch: Launch
    prepare: Callable[[Env, str], Any] = _nothing


CASES: dict[str, Case] = {
    "create_server": Case(lambda e, _: e.compute.create_server_async(name="new", **e.boot)),
    "delete_server": Case(lambda e, vm: e.compute.delete_server_async(vm), _server),
    "rebuild_server": Case(
        lambda e, vm: e.compute.rebuild_server_async(vm, e.boot["image_id"]), _server
    ),
    "resize_server": Case(lambda e, vm: e.compute.resize_server_async(vm, e.other_flavor), _server),
    "confirm_server_resize": Case(
        lambda e, vm: e.compute.confirm_server_resize_async(vm), _resized
    ),
    "revert_server_resize": Case(lambda e, vm: e.compute.revert_server_resize_async(vm), _resized),
    "reboot_server": Case(lambda e, vm: e.compute.reboot_server_async(vm, "SOFT"), _server),
    "start_server": Case(lambda e, vm: e.compute.start_server_async(vm), _stopped),
    "stop_server": Case(lambda e, vm: e.compute.stop_server_async(vm), _server),
    "migrate_server": Case(lambda e, vm: e.compute.migrate_server_async(vm), _server),
    "live_migrate_server": Case(lambda e, vm: e.compute.live_migrate_server_async(vm), _server),
    "create_server_image": Case(
        lambda e, vm: e.compute.create_server_image_async(vm, "snap"), _server
    ),
    "create_volume_attachment": Case(
        lambda e, pair: e.compute.create_volume_attachment_async(pair[0], volume=pair[1]),
        _server_and_volume,
    ),
    "delete_volume_attachment": Case(
        lambda e, pair: e.compute.delete_volume_attachment_async(*pair), _attached
    ),
    "create_volume": Case(lambda e, _: e.volumes.create_volume_async(size=1, name="new")),
    "delete_volume": Case(lambda e, v: e.volumes.delete_volume_async(v), _volume),
    "extend_volume": Case(lambda e, v: e.volumes.extend_volume_async(v, 2), _volume),
    "retype_volume": Case(lambda e, v: e.volumes.retype_volume_async(v, e.other_type), _volume),
    "create_snapshot": Case(
        lambda e, v: e.volumes.create_snapshot_async(volume_id=v.id, name="new"), _volume
    ),
    "delete_snapshot": Case(lambda e, s: e.volumes.delete_snapshot_async(s), _snapshot),
    "create_backup": Case(
        lambda e, v: e.volumes.create_backup_async(volume_id=v.id, name="new"), _volume
    ),
    "delete_backup": Case(lambda e, b: e.volumes.delete_backup_async(b), _backup),
    "restore_backup": Case(
        lambda e, b: e.volumes.restore_backup_async(b, name="restored"), _backup
    ),
    "create_image": Case(lambda e, _: _image(e, "new")),
    "import_image": Case(
        lambda e, img: e.conn.image.import_image_async(
            img, method="web-download", uri="https://example.com/disk.qcow2"
        ),
        _queued_image,
    ),
    "delete_image": Case(lambda e, img: e.conn.image.delete_image_async(img), _image),
    "create_stack": Case(lambda e, _: _stack(e, "new")),
    "update_stack": Case(
        lambda e, st: e.conn.orchestration.update_stack_async(st, template=TEMPLATE), _stack
    ),
    "delete_stack": Case(lambda e, st: e.conn.orchestration.delete_stack_async(st), _stack),
    "create_load_balancer": Case(lambda e, _: _load_balancer(e, "new")),
    "delete_load_balancer": Case(
        lambda e, lb: e.lbs.delete_load_balancer_async(lb), _load_balancer
    ),
    "create_listener": Case(
        lambda e, lb: e.lbs.create_listener_async(
            name="new", load_balancer_id=lb.id, protocol="HTTP", protocol_port=80
        ),
        _load_balancer,
    ),
    "delete_listener": Case(lambda e, li: e.lbs.delete_listener_async(li), _listener),
    "create_pool": Case(
        lambda e, li: e.lbs.create_pool_async(
            name="new", listener_id=li.id, protocol="HTTP", lb_algorithm="ROUND_ROBIN"
        ),
        _listener,
    ),
    "delete_pool": Case(lambda e, pool: e.lbs.delete_pool_async(pool), _pool),
    "create_share": Case(lambda e, _: _share(e, "new")),
    "delete_share": Case(lambda e, sh: e.conn.shared_file_system.delete_share_async(sh), _share),
    "resize_share": Case(
        lambda e, sh: e.manila_2_7.shared_file_system.resize_share_async(sh, 2), _share
    ),
}


def _served(spec: OperationSpec) -> Any:
    reason = UNSERVED.get(spec.service)
    marks = [pytest.mark.skip(reason=f"{reason}: {spec.call} is not run")] if reason else []
    return pytest.param(spec, id=_id(spec), marks=marks)


@pytest.fixture(scope="module")
def prepared(env: Env) -> dict[str, Any]:
    """What every row's call needs, made all at once (futures, or plain objects)."""
    return {call: case.prepare(env, call) for call, case in CASES.items()}


def test_every_served_row_has_a_case() -> None:
    served = {s.call for s in SPECS if s.service not in UNSERVED}
    assert served == set(CASES)


@pytest.mark.parametrize("spec", [_served(spec) for spec in SPECS])
def test_the_row_runs_on_fakecloud(spec: OperationSpec, env: Env, prepared: dict[str, Any]) -> None:
    case = CASES[spec.call]
    needs = prepared[spec.call]
    if isinstance(needs, osfutures.OperationFuture):
        needs = needs.result(timeout=30)
    future = case.launch(env, needs)
    assert isinstance(future, osfutures.OperationFuture)
    result = future.result(timeout=30)
    kind = KINDS[spec.kind]
    # What the docs' "resolves with" says: the watched kind's openstacksdk resource.
    get = getattr(type(getattr(env.conn.unwrap(), kind.service)), kind.get)
    resource = typing.get_type_hints(get)["return"]
    assert result is None or isinstance(result, resource), (type(result), resource)
    if spec.deletes:
        assert kind.fetch(env.conn.unwrap(), future.resource_id) is osfutures.GONE
    else:
        assert kind.state(result) in _lower(spec.target)
        assert (future.status or "").lower() in _lower(spec.target)
        assert result.id == future.resource_id


@pytest.mark.parametrize("spec", ROWS)
def test_the_twins_are_listed_and_say_their_states(spec: OperationSpec, env: Env) -> None:
    proxy = getattr(env.conn, spec.service)
    for twin in (f"{spec.call}_async", f"{spec.call}_async_r"):
        assert twin in dir(proxy)
        doc = getattr(proxy, twin).__doc__
        assert f"``{spec.service}.{spec.call}``" in doc
        if spec.deletes:
            assert "once it is gone" in doc
        elif spec.target_from is not None:
            assert "its target state" in doc
        else:
            assert all(state in doc for state in spec.target), doc
        assert all(state in doc for state in spec.failure), doc


# -- where a create carries its journal operation's id -------------------------------


def test_the_creates_that_carry_their_op_id_take_it_and_list_their_kind() -> None:
    carrying = {(s.service, s.call): s.carries for s in SPECS if s.carries is not None}
    assert {call: (c.argument, c.lists) for (_, call), c in carrying.items()} == {
        "create_server": ("metadata", "servers"),
        "create_volume": ("metadata", "volumes"),
        "create_image": ("tags", "images"),
        "create_stack": ("tags", "stacks"),
        "create_share": ("metadata", "shares"),
    }
    for (service, call), carries in carrying.items():
        parameters = inspect.signature(_method(service, call)).parameters
        takes = carries.argument in parameters or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
        )
        assert takes, f"{call} takes no {carries.argument}"
        assert callable(getattr(_proxy_class(service), carries.lists, None)), carries.lists
        merged = carries.merged(call, None, "op-1")
        assert carries.carried({carries.argument: merged}) == "op-1"
        with pytest.raises(ValueError, match=rf"^{call}\({carries.argument}=\.\.\.\)"):
            carries.merged(call, merged, "op-2")
