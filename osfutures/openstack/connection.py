"""An openstacksdk Connection whose proxies gain the ``_async`` and ``_async_r`` twins.

:class:`AsyncConnection` passes every attribute through to the wrapped Connection;
only the proxies that have rows in the spec table come back wrapped in an
:class:`AsyncProxy`, whose unknown attributes also pass through. A twin is found by
name: ``create_server_async`` is the ``create_server`` row run by :func:`start_twin`,
``create_server_async_r`` the same inside :func:`osfutures.retrying`.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import threading
import weakref
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from keystoneauth1 import exceptions as ks_exc

from osfutures._checks import check_timeout
from osfutures.future import OperationFuture
from osfutures.journal.twins import (
    AttemptRelay,
    JournalArgument,
    Sending,
    TwinJournal,
    custom_policy,
    twin_journal,
)
from osfutures.monitor import Monitor, default_monitor
from osfutures.openstack import resuming
from osfutures.openstack.adopting import adopter_for
from osfutures.openstack.batching import Lister
from osfutures.openstack.explaining import Sent, sent_requests
from osfutures.openstack.kinds import KINDS, Kind
from osfutures.openstack.records import request_record
from osfutures.openstack.sharing import SharedListing, share_of
from osfutures.openstack.specs import (
    SPECS,
    Argument,
    OperationSpec,
    keyword_attributes,
    specs_for,
)
from osfutures.openstack.waiting import Waiting, waiting_for
from osfutures.policy import PollInterval, _status_code, is_transient
from osfutures.retrying import resume_retrying, retrying
from osfutures.watch import Batch, OnGone, States

if TYPE_CHECKING:
    from osfutures.journal import Journal
    from osfutures.journal.sharing import (
        SharedPolling,  # a stub (generated): the twins as type checkers see them
    )
    from osfutures.openstack.twins import (
        AsyncBaremetal,
        AsyncBlockStorage,
        AsyncCompute,
        AsyncImage,
        AsyncLoadBalancer,
        AsyncOrchestration,
        AsyncSharedFileSystem,
    )

__all__ = ["AsyncConnection", "AsyncProxy"]

ASYNC = "_async"
ASYNC_R = "_async_r"
#: How many "not found" answers in a row are believed for an object just created
#: (Nova and Cinder may answer 404 for a moment after accepting a create).
GONE_AFTER_CREATE = 3
# What a disappearance means: the goal of a deletion; for a new object, a failure
# once GONE_AFTER_CREATE answers in a row say so; else at the first.
_DELETED = OnGone(succeed=True)
_JUST_CREATED = OnGone(after=GONE_AFTER_CREATE)
_VANISHED = OnGone()

_SERVICES = frozenset(spec.service for spec in SPECS)
_WAIT_AS_THE_MONITOR = Waiting()
_listings_lock = threading.Lock()
_listings: weakref.WeakKeyDictionary[Any, dict[str, _Listing]] = weakref.WeakKeyDictionary()
_endpoints: weakref.WeakKeyDictionary[Any, dict[str, Hashable]] = weakref.WeakKeyDictionary()
# The cluster of each connection whose journal is a PostgreSQL one (cluster mode).
_clusters: weakref.WeakKeyDictionary[Any, SharedPolling] = weakref.WeakKeyDictionary()


def is_fatal(error: BaseException) -> bool:
    """Probe errors that polling again cannot fix (a 401 after re-authentication,
    a 403, a 400); connection failures, timeouts, 429 and 5xx are polled through."""
    return not (is_transient(error) or isinstance(error, ks_exc.ConnectionError))


class _Listing:
    """The batch of one kind on one connection, and the single fetch beside it.

    With ``sharing`` (the connection's journal is a PostgreSQL one), the batch's
    answer is its cluster's (:mod:`osfutures.openstack.sharing`), where the lister
    can list for other processes too."""

    def __init__(
        self,
        conn: Any,
        kind: Kind,
        lister: Lister,
        endpoint: Hashable,
        sharing: SharedPolling | None,
    ) -> None:
        self.kind = kind
        self.lister = lister
        # An incremental lister answers only what moved: a cycle then costs the
        # monitor what changed, not what is watched.
        own = lister.fetch_changes if lister.incremental else lister.fetch_many
        # One batch per connection and kind: different connections (clouds,
        # projects, users) are polled separately.
        key = (kind.name, id(conn))
        share = share_of(conn, kind.name, endpoint) if sharing and lister.shareable else None
        self.shared = (
            None
            if sharing is None or share is None
            else SharedListing(lister, own, sharing, share, key, busy=self._busy)
        )
        self._answer = own if self.shared is None else self.shared
        self.batch = Batch(
            key=key,
            fetch_many=self.fetch_many,
            changes_only=lister.incremental,
            endpoint=endpoint,
        )
        self._lock = threading.Lock()
        self._watching = 0

    def fetch_many(self, ids: Sequence[Hashable]) -> Mapping[Hashable, Any]:
        present = self.kind.present
        return {i: present(obj) for i, obj in self._answer(ids).items()}

    def fetch_one(self, resource_id: str) -> Any:
        found = self.kind.present(self.lister.fetch_one(resource_id))
        if self.shared is not None:
            self.shared.fetched(resource_id, found)
        return found

    def _busy(self) -> bool:
        return self._watching > 0

    def expect(self) -> None:
        """An operation is about to be watched in this batch (counted in cluster
        mode only)."""
        if self.shared is None:
            return
        with self._lock:
            self._watching += 1

    def watching(self, future: OperationFuture[Any], monitor: Monitor) -> None:
        r"""``future`` (:meth:`expect`\ ed) is watched in this batch by ``monitor``: in
        cluster mode, the batch's notifications wake that monitor, and once nothing
        is watched here any more, another process may list for the cluster."""
        if self.shared is None:
            return
        self.shared.serves(monitor)
        future.add_done_callback(lambda _: self.ended())

    def ended(self) -> None:
        r"""An operation :meth:`expect`\ ed is over (or was never watched)."""
        if self.shared is None:
            return
        with self._lock:
            self._watching -= 1
            idle = self._watching == 0
        if idle:
            # Off the thread that resolved it (often the monitor's): a database call.
            threading.Thread(target=self.shared.idle, name="osfutures-resign", daemon=True).start()


def _endpoint(conn: Any, service: str) -> Hashable:
    """What a service's requests go to (its URL), for the monitor's per-endpoint cap:
    connections to one cloud share the cap of each of its services."""
    with _listings_lock:
        known = _endpoints.setdefault(conn, {})
        if service in known:
            return known[service]
    try:
        endpoint: Hashable = getattr(conn, service).get_endpoint()
    except Exception:  # no catalog to ask: still one cap per connection and service
        endpoint = (service, id(conn))
    with _listings_lock:
        return known.setdefault(service, endpoint)


def _listing(conn: Any, kind: Kind, endpoint: Hashable) -> _Listing | None:
    if kind.lister is None:
        return None
    with _listings_lock:
        per_conn = _listings.setdefault(conn, {})
        listing = per_conn.get(kind.name)
        if listing is None:
            listing = per_conn[kind.name] = _Listing(
                conn,
                kind,
                kind.lister(conn, kind.service, kind.get),
                endpoint,
                _clusters.get(conn),
            )
        return listing


def start_twin(
    conn: Any,
    spec: OperationSpec,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    timeout: float | None,
    interval: PollInterval | float | None,
    monitor: Monitor,
    carry: Callable[[inspect.BoundArguments], None] | None = None,
) -> OperationFuture[Any]:
    """Make the plain call, then watch what it started.

    Every argument is checked before the plain call, so a refused call changes
    nothing in the cloud (a server created and then refused would be an orphan the
    caller holds no id of). ``carry``, if given, is called with the bound arguments
    last, just before the call: it may change them (a create's metadata or tags
    carry its journal operation's id) and write the operation down.

    Raises what the plain call raises (a 400, 403, 409 or quota error raises here,
    exactly as openstacksdk would); ``TypeError`` or ``ValueError`` naming the
    argument when the arguments do not fit the call or ``timeout`` / ``interval``
    are wrong; :class:`~osfutures.MonitorShutdown` or
    :class:`~osfutures.MonitorCrashed` when ``monitor`` takes no more work.
    """
    kind = KINDS[spec.kind]
    method = getattr(getattr(conn, spec.service), spec.call)
    bound = inspect.signature(method).bind(*args, **kwargs)
    arguments = bound.arguments
    states = spec.states(arguments)  # an unknown target verb is refused before the call
    check_timeout("timeout", timeout)
    interval = PollInterval.coerce(interval, monitor.default_interval)
    monitor._check_open()
    if carry is not None:
        carry(bound)
    with sent_requests(conn) as sent:
        result = method(*bound.args, **bound.kwargs)
    resource_id = spec.locate(arguments, result)
    if resource_id is None:
        raise ValueError(
            f"{spec.call}: cannot tell which {kind.name} to watch from these arguments"
            f" and result ({result!r})"
        )
    future = _watch(
        conn,
        spec,
        resource_id,
        states,
        on_gone=_on_gone(spec, arguments),
        sent=sent,
        timeout=timeout,
        interval=interval,
        monitor=monitor,
        name=f"{spec.call} {_name_of(spec, arguments, result) or resource_id}",
        request=request_record(spec.service, spec.call, arguments),
        sync_res=result,
        initial=result if spec.creates and result is not None else None,
    )
    future._resume_state = resuming.state(
        conn,
        spec,
        resource_id,
        states,
        name=future.name,
        deadline=monitor.default_timeout if timeout is None else timeout,
        sent=sent,
        leaves_behind=spec.leaves_behind(arguments),
    )
    return future


def _watch(
    conn: Any,
    spec: OperationSpec,
    resource_id: str,
    states: States,
    *,
    on_gone: OnGone,
    sent: Sequence[Sent],
    timeout: float | None,
    interval: PollInterval | float | None,
    monitor: Monitor,
    name: str,
    request: Any,
    sync_res: Any,
    initial: Any,
) -> OperationFuture[Any]:
    """Watch ``resource_id`` as ``spec`` says, batched with its kind's listing."""
    kind = KINDS[spec.kind]
    endpoint = _endpoint(conn, kind.service)
    listing = _listing(conn, kind, endpoint)
    inquire = kind.inquiry(conn, resource_id, sent) if kind.inquiry else None
    fetch: Callable[[], Any] = (
        functools.partial(listing.fetch_one, resource_id)
        if listing is not None
        else functools.partial(kind.fetch, conn, resource_id)
    )
    # A state counts once no task runs on the object (the kind's reader knows how to
    # tell): right after an action Nova may still show the state it started from, and
    # deleting an ERROR server shows ERROR until it is gone.
    if listing is not None:
        listing.expect()  # counted before its first poll can come
    try:
        future = monitor.watch(
            fetch,
            states=states,
            reader=kind.reader,
            on_gone=on_gone,
            batch=listing.batch.member(resource_id) if listing is not None else None,
            endpoint=endpoint,
            timeout=timeout,
            interval=interval,
            name=name,
            request=request,
            sync_res=sync_res,
            resource_id=resource_id,
            initial=initial,
            is_fatal=is_fatal,
            inquire=inquire,
            confirm=spec.confirm and inquire is not None,
        )
    except BaseException:
        if listing is not None:
            listing.ended()
        raise
    if listing is not None:
        listing.watching(future, monitor)
    return future


def watch_existing(
    conn: Any,
    kind_name: str,
    resource_id: str,
    *,
    status: str | Collection[str] | None,
    gone: bool,
    timeout: float | None,
    interval: PollInterval | float | None,
    monitor: Monitor,
) -> OperationFuture[Any]:
    """Watch an existing object (see :meth:`AsyncConnection.watch`)."""
    creation = next((s for s in SPECS if s.kind == kind_name and s.creates), None)
    if kind_name not in KINDS or creation is None:
        known = sorted(k for k in KINDS if any(s.kind == k and s.creates for s in SPECS))
        raise ValueError(f"kind: osfutures watches {', '.join(known)}; got {kind_name!r}")
    if not isinstance(resource_id, str) or not resource_id:
        raise TypeError(f"resource_id: expected an object's id, got {resource_id!r}")
    if gone and status is not None:
        raise ValueError("status: a wait until gone has no target state; give one or the other")
    deletion = next(s for s in SPECS if s.kind == kind_name and s.deletes)
    spec = deletion if gone else creation
    target: Collection[str] = (
        ()
        if gone
        else spec.target
        if status is None
        else [status]
        if isinstance(status, str)
        else status
    )
    states = States.of(target, (), spec.failure, allow_no_target=gone)
    check_timeout("timeout", timeout)
    interval = PollInterval.coerce(interval, monitor.default_interval)
    monitor._check_open()
    return _watch(
        conn,
        spec,
        resource_id,
        states,
        on_gone=_DELETED if gone else _VANISHED,
        sent=(),
        timeout=timeout,
        interval=interval,
        monitor=monitor,
        name=f"wait for {kind_name} {resource_id}",
        request={"kind": kind_name, "resource_id": resource_id, "gone": gone},
        sync_res=None,
        initial=None,
    )


def resume_twin(
    conn: Any,
    token: str,
    *,
    timeout: float | None,
    interval: PollInterval | float | None,
    monitor: Monitor,
) -> OperationFuture[Any]:
    """Watch again the operation a token names (see :meth:`AsyncConnection.resume`)."""
    found = resuming.parse(token, conn)
    spec = found.spec
    check_timeout("timeout", timeout)
    on_gone = _DELETED if spec.deletes else _JUST_CREATED if found.leaves_behind else _VANISHED
    future = _watch_again(
        conn,
        spec,
        found.resource_id,
        found.states,
        on_gone=on_gone,
        sent=found.sent,
        left=found.time_left() if timeout is None else timeout,
        interval=interval,
        monitor=monitor,
        name=found.name,
    )
    future._resume_state = found.state
    return future


def _watch_again(
    conn: Any,
    spec: OperationSpec,
    resource_id: str,
    states: States,
    *,
    on_gone: OnGone,
    sent: Sequence[Sent],
    left: float,
    interval: PollInterval | float | None,
    monitor: Monitor,
    name: str,
) -> OperationFuture[Any]:
    """Watch an operation another process started, ``left`` seconds more."""
    interval = PollInterval.coerce(interval, monitor.default_interval)
    monitor._check_open()
    # A look now, on the caller's thread: what ended while nobody watched resolves at
    # once, even past the deadline.
    current = KINDS[spec.kind].fetch(conn, resource_id)
    return _watch(
        conn,
        spec,
        resource_id,
        states,
        on_gone=on_gone,
        sent=sent,
        timeout=max(left, resuming.LAST_LOOK),
        interval=interval,
        monitor=monitor,
        name=name,
        request={"service": spec.service, "call": spec.call, "resumed": True},
        sync_res=None,
        initial=current,
    )


def carrying(conn: Any, spec: OperationSpec, op_id: str, name: str | None) -> list[Any]:
    """The objects of ``spec``'s kind that carry the operation id ``op_id`` (its
    create's metadata or tag): one listing of the project's, narrowed to ``name``."""
    carries = spec.carries
    if carries is None:
        raise ValueError(f"{spec.call}: its objects carry no operation id")
    proxy = getattr(conn, KINDS[spec.kind].service)
    listing = getattr(proxy, carries.lists)(**carries.query(name))
    return [obj for obj in listing if carries.carried(obj) == op_id]


def adopt_twin(
    conn: Any,
    spec: OperationSpec,
    resource_id: str,
    *,
    name: str,
    left: float,
    interval: PollInterval | float | None,
    monitor: Monitor,
) -> OperationFuture[Any]:
    """Watch the object a create made whose answer was lost (found by the operation
    id it carries), ``left`` seconds more; its future has a token from now on."""
    states = spec.states({})
    future = _watch_again(
        conn,
        spec,
        resource_id,
        states,
        on_gone=_JUST_CREATED,
        sent=(),
        left=left,
        interval=interval,
        monitor=monitor,
        name=name,
    )
    future._resume_state = resuming.state(
        conn, spec, resource_id, states, name=name, deadline=left, sent=(), leaves_behind=True
    )
    return future


def _name_of(spec: OperationSpec, arguments: Mapping[str, Any], result: Any) -> str | None:
    """What the caller knows the watched object by: the name it gave a new one
    (``create_server(name="web-3")``), else the name of the object it passed or the
    call returned."""
    extra = keyword_attributes(arguments)
    watched = spec.passed(arguments) if isinstance(spec.locate, Argument) else result
    for name in (arguments.get("name"), extra.get("name"), getattr(watched, "name", None)):
        if isinstance(name, str) and name:
            return name
    return None


def carry_op_id(spec: OperationSpec, bound: inspect.BoundArguments, op_id: str) -> None:
    """Add ``op_id`` to the metadata or tags a create's bound arguments carry (the
    spec's :attr:`~osfutures.openstack.specs.OperationSpec.carries`), a named
    argument or one of its ``**attrs``.

    Raises:
        ValueError: the caller set ``osfutures_op`` itself, or gave metadata or tags
            of the wrong type (the message names the argument).
    """
    carries = spec.carries
    if carries is None:
        return
    name = carries.argument
    parameters = bound.signature.parameters
    given = parameters.get(name)
    if given is not None and given.kind is not inspect.Parameter.VAR_KEYWORD:
        bound.arguments[name] = carries.merged(spec.call, bound.arguments.get(name), op_id)
        return
    attrs = next(p.name for p in parameters.values() if p.kind is inspect.Parameter.VAR_KEYWORD)
    extra = dict(bound.arguments.get(attrs) or {})
    extra[name] = carries.merged(spec.call, extra.get(name), op_id)
    bound.arguments[attrs] = extra


def refused(error: BaseException) -> bool:
    """Whether a call's error says the cloud made nothing: an answer of 4xx, or an
    error raised before anything was sent (a bad argument). A connection dropped
    before the answer, a timeout or a 5xx leave it open: the object may exist."""
    code = _status_code(error)
    if code is not None:
        return code < 500
    return not isinstance(error, (OSError, TimeoutError, ks_exc.ConnectionError))


def _on_gone(spec: OperationSpec, arguments: Mapping[str, Any]) -> OnGone:
    if spec.deletes:
        # A fast delete may be over before the first poll (real Nova lists about
        # half of them DELETED already, and one without a host never): the deletion
        # still resolves with the resource, the object the caller passed.
        passed = spec.passed(arguments)
        return _DELETED if isinstance(passed, (str, type(None))) else OnGone(True, last=passed)
    return _JUST_CREATED if spec.leaves_behind(arguments) else _VANISHED


def _carrier(
    spec: OperationSpec, sending: Sending, merge: bool
) -> Callable[[inspect.BoundArguments], None]:
    """The ``carry`` of :func:`start_twin` for a create that carries its operation's
    id: the id merged into its arguments (unless ``merge`` is false: a retrying
    twin's arguments carry it already), then its row written, once."""

    def carry(bound: inspect.BoundArguments) -> None:
        if merge:
            carry_op_id(spec, bound, sending.op_id)
        if sending.stand_in is None:
            named = _name_of(spec, bound.arguments, None)
            label = f"{spec.call} {named}" if merge and named else spec.call
            sending.write(label, request_record(spec.service, spec.call, bound.arguments))

    return carry


def _cleanup(
    conn: Any, spec: OperationSpec, monitor: Monitor, relay: AttemptRelay | None
) -> Callable[..., Any]:
    kind = KINDS[spec.kind]
    delete = next(s for s in SPECS if s.kind == kind.name and s.deletes)

    def cleanup(failed: OperationFuture[Any]) -> OperationFuture[Any] | None:
        if failed.resource_id is None:
            return None
        removal = start_twin(
            conn,
            delete,
            (failed.resource_id,),
            {},
            timeout=None,
            interval=None,
            monitor=monitor,
        )
        if relay is not None:  # the journal's row says a resume must finish it
            relay.cleaning(removal)
        return removal

    return cleanup


class AsyncProxy:
    """An openstacksdk service proxy plus its ``_async`` / ``_async_r`` twins."""

    def __init__(
        self,
        conn: Any,
        service: str,
        proxy: Any,
        monitor: Monitor | None,
        waiting: Mapping[str, Waiting] | None = None,
        journal: TwinJournal | None = None,
    ) -> None:
        self._conn = conn
        self._waiting = waiting or {}
        self._service = service
        self._proxy = proxy
        self._specs = specs_for(service)
        self._monitor = monitor
        self._journal = journal

    def __getattr__(self, name: str) -> Any:
        if name.endswith(ASYNC_R) and name[: -len(ASYNC_R)] in self._specs:
            return self._retrying_twin(self._specs[name[: -len(ASYNC_R)]])
        if name.endswith(ASYNC) and name[: -len(ASYNC)] in self._specs:
            return self._twin(self._specs[name[: -len(ASYNC)]])
        if name.endswith((ASYNC, ASYNC_R)):
            known = [f"{call}{suffix}" for call in self._specs for suffix in (ASYNC, ASYNC_R)]
            nearby = difflib.get_close_matches(name, known, n=4, cutoff=0.5)
            hint = f"; did you mean {', '.join(nearby)}?" if nearby else ""
            raise AttributeError(
                f"{self._service} has no twin {name!r}: osfutures knows"
                f" {len(self._specs)} calls of this service that start background work{hint}"
            )
        return getattr(self._proxy, name)

    def __dir__(self) -> list[str]:
        twins = [f"{call}{suffix}" for call in self._specs for suffix in (ASYNC, ASYNC_R)]
        return sorted(set(dir(self._proxy)) | set(twins))

    def __repr__(self) -> str:
        return f"<AsyncProxy {self._service} of {self._proxy!r}>"

    def _monitor_or_default(self) -> Monitor:
        return self._monitor or default_monitor()

    def _sending(self, spec: OperationSpec, twin: str, **options: Any) -> Sending | None:
        """With a journal, a create that carries its operation's id (see :doc:`/journal`)."""
        if self._journal is None or spec.carries is None:
            return None
        return self._journal.sending(twin, **options)

    def _twin(
        self, spec: OperationSpec, *, journaled: bool = True, sending: Sending | None = None
    ) -> Callable[..., OperationFuture[Any]]:
        """The ``_async`` twin; unjournaled, an attempt of a retrying one (whose
        ``sending``, if any, its first attempt writes down)."""

        def twin(
            *args: Any,
            timeout: float | None = None,
            interval: PollInterval | float | None = None,
            **kwargs: Any,
        ) -> OperationFuture[Any]:
            # The call's own values (checked by start_twin under their names), else
            # this kind's (wrap(waiting=...), clouds.yaml), else the monitor's.
            kinds = self._waiting.get(spec.kind) or _WAIT_AS_THE_MONITOR
            timeout = timeout if timeout is not None else kinds.timeout
            interval = interval if interval is not None else kinds.interval
            journal = self._journal if journaled else None
            carrying = sending
            if journal is not None:
                carrying = self._sending(
                    spec, f"{spec.call}{ASYNC}", timeout=timeout, interval=interval
                )
            try:
                future = start_twin(
                    self._conn,
                    spec,
                    args,
                    kwargs,
                    timeout=timeout,
                    interval=interval,
                    monitor=self._monitor_or_default(),
                    carry=None if carrying is None else _carrier(spec, carrying, journaled),
                )
            except BaseException as error:
                if journal is not None and carrying is not None:
                    carrying.unsent(error, refused(error))
                raise
            # The journal (journal=): a retrying twin's attempts are not rows of their
            # own, they are in its future's record.
            if journal is not None and carrying is not None:
                carrying.hand_over(future)
            elif journal is not None:
                journal.track(future, f"{spec.call}{ASYNC}", timeout=timeout, interval=interval)
            return future

        twin.__name__ = f"{spec.call}{ASYNC}"
        twin.__doc__ = _twin_doc(spec)
        return twin

    def _retrying_twin(self, spec: OperationSpec) -> Callable[..., OperationFuture[Any]]:
        def twin(
            *args: Any,
            try_count: int = 3,
            tout: float | None = None,
            timeout: float | None = None,
            retry: Any = None,
            stop: Any = None,
            wait: Any = None,
            before: Any = None,
            after: Any = None,
            before_sleep: Any = None,
            retry_error_callback: Any = None,
            reraise: bool = False,
            cleanup_last: bool = True,
            interval: PollInterval | float | None = None,
            **kwargs: Any,
        ) -> OperationFuture[Any]:
            if isinstance(wait, bool):  # the plain call's own wait= (create_image has one)
                raise TypeError(
                    "wait: expected a tenacity wait strategy such as tenacity.wait_fixed(5),"
                    f" got bool {wait!r}; {spec.call}{ASYNC_R}'s wait is the pause between"
                    " attempts, and its future does the waiting the plain call's wait= does"
                )
            monitor = self._monitor_or_default()
            relay = self._journal.attempts() if self._journal is not None else None
            # Checked here, not in the first attempt: a refusal then would come after
            # retrying() had started, and from a later attempt after a create.
            PollInterval.coerce(interval, monitor.default_interval)
            options = {
                "try_count": try_count,
                "tout": tout,
                "timeout": timeout,
                "interval": interval,
                "cleanup_last": cleanup_last,
                "reraise": reraise,
                "custom": custom_policy(
                    retry=retry,
                    stop=stop,
                    wait=wait,
                    before=before,
                    after=after,
                    before_sleep=before_sleep,
                    retry_error_callback=retry_error_callback,
                ),
            }
            # Every attempt carries the operation's id, merged once here.
            sending = self._sending(spec, f"{spec.call}{ASYNC_R}", **options)
            if sending is not None:
                bound = inspect.signature(getattr(self._proxy, spec.call)).bind(*args, **kwargs)
                carry_op_id(spec, bound, sending.op_id)
                args, kwargs = bound.args, bound.kwargs
            start, cleanup = self._attempts(spec, args, kwargs, interval, relay, monitor, sending)
            try:
                outer = retrying(
                    start,
                    cleanup,
                    try_count=try_count,
                    tout=tout,
                    timeout=timeout,
                    retry=retry,
                    stop=stop,
                    wait=wait,
                    before=before,
                    after=after,
                    before_sleep=before_sleep,
                    retry_error_callback=retry_error_callback,
                    reraise=reraise,
                    cleanup_last=cleanup_last,
                    name=spec.call,
                    monitor=monitor,
                )
            except BaseException as error:
                if sending is not None:
                    sending.unsent(error, refused(error))
                raise
            if self._journal is not None and relay is not None:
                if sending is not None:
                    sending.hand_over(outer)
                    relay.tracking(outer)
                else:
                    self._journal.track_retrying(outer, relay, f"{spec.call}{ASYNC_R}", **options)
            return outer

        twin.__name__ = f"{spec.call}{ASYNC_R}"
        twin.__doc__ = _twin_doc(spec) + _RETRY_DOC
        return twin

    def _attempts(
        self,
        spec: OperationSpec,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        interval: PollInterval | float | None,
        relay: AttemptRelay | None,
        monitor: Monitor,
        sending: Sending | None = None,
    ) -> tuple[Callable[[float | None], OperationFuture[Any]], Callable[..., Any] | None]:
        """What a retrying twin call runs: the start of one attempt (the plain
        twin's call), and the cleanup of a failed one (``None`` if it leaves nothing).

        Raises:
            TypeError: the arguments do not fit the call.
        """
        attempt = self._twin(spec, journaled=False, sending=sending)
        method = getattr(self._proxy, spec.call)
        arguments = inspect.signature(method).bind(*args, **kwargs).arguments

        def start(attempt_timeout: float | None) -> OperationFuture[Any]:
            future = attempt(*args, timeout=attempt_timeout, interval=interval, **kwargs)
            if relay is not None:
                relay.started(future)
            return future

        leaves = spec.leaves_behind(arguments)
        return start, _cleanup(self._conn, spec, monitor, relay) if leaves else None

    def _continue_retrying(
        self,
        retry: resuming.RetryState,
        current: OperationFuture[Any] | None,
        relay: AttemptRelay | None,
        interval: PollInterval | float | None,
        monitor: Monitor,
    ) -> OperationFuture[Any]:
        """Go on with a retrying operation from its row (see :func:`osfutures.resume`)."""
        spec = retry.spec
        try:
            kwargs = _call_arguments(self._proxy, spec, retry.relaunchable())
        except ValueError as refused:
            reason = refused
            kwargs = None
        start, cleanup = self._attempts(spec, (), kwargs or {}, interval, relay, monitor)
        if kwargs is None:

            def start(attempt_timeout: float | None) -> OperationFuture[Any]:
                raise reason  # the attempt left is cleaned up, then the operation fails

        left = retry.time_left
        return resume_retrying(
            start,
            cleanup,
            attempts=retry.attempts,
            current=current,
            cleanup_pending=retry.cleanup_pending,
            try_count=retry.try_count,
            tout=retry.tout,
            timeout=None if left is None else max(left, resuming.LAST_LOOK),
            reraise=retry.reraise,
            cleanup_last=retry.cleanup_last,
            name=spec.call,
            request=retry.request,
            monitor=monitor,
        )


def _call_arguments(proxy: Any, spec: OperationSpec, recorded: Mapping[str, Any]) -> dict[str, Any]:
    """A call's keyword arguments from their record: an object the record reduced to
    ``{"id": ...}`` is passed as its id where the call names the parameter (a
    ``**attrs`` value is passed as recorded)."""
    named = {
        name
        for name, parameter in inspect.signature(getattr(proxy, spec.call)).parameters.items()
        if parameter.kind is not inspect.Parameter.VAR_KEYWORD
    }
    return {
        name: value["id"]
        if name in named and isinstance(value, Mapping) and set(value) == {"id"}
        else value
        for name, value in recorded.items()
    }


def _twin_doc(spec: OperationSpec) -> str:
    outcome = (
        "once it is gone"
        if spec.deletes
        else f"once it reaches {' / '.join(sorted(spec.target)) or 'its target state'}"
    )
    return (
        f"Call ``{spec.service}.{spec.call}`` and return an OperationFuture of the"
        f" {spec.kind} it works on, resolved {outcome}; failure states:"
        f" {', '.join(sorted(spec.failure)) or 'none'}.\n\n"
        "``timeout`` (seconds) and ``interval`` (seconds or a PollInterval) control the"
        " waiting; every other argument goes to the plain call, which raises as usual."
    )


_RETRY_DOC = (
    "\n\nRetries (:func:`osfutures.retrying`): up to ``try_count`` attempts of ``tout``"
    " seconds each, all within ``timeout`` seconds (the whole operation's deadline, if"
    " given); a failed or timed-out attempt's object is deleted and waited on until gone"
    " before the next (and after the last, unless ``cleanup_last=False``). ``retry``,"
    " ``stop`` and ``wait`` are tenacity strategies (default retry: failures in the"
    " cloud, timeouts and transient request errors; ``stop`` adds to ``try_count``;"
    " ``wait`` is the pause between attempts, which the monitor times); ``before``,"
    " ``after``, ``before_sleep``, ``retry_error_callback`` and ``reraise`` are"
    " tenacity's hooks and option. All are checked before the plain call, so a refused"
    " one creates nothing. The plain call's own ``wait`` and ``timeout``, where it has"
    " them, are not passed on: the future does that waiting."
)


class AsyncConnection:
    """An openstacksdk Connection with ``_async`` / ``_async_r`` twins on its proxies.

    Every attribute and call of the wrapped Connection passes through unchanged;
    ``conn.compute``, ``conn.block_storage`` and the other proxies that have twins come
    back as :class:`AsyncProxy` objects.

    Args:
        conn: the openstacksdk Connection to wrap.
        monitor: the monitor that watches this connection's operations (default:
            the process-wide :func:`osfutures.default_monitor`).
        waiting: per kind of object (``"server"``, ``"volume"``, ... or
            ``"default"``), the :class:`~osfutures.openstack.Waiting` of twin calls
            that give no ``timeout`` or ``interval``; over the ``osfutures:``
            section of the cloud's clouds.yaml entry.
        journal: keep every operation the twins start in a journal (see
            :doc:`/journal`): a SQLite file's path, a ``postgresql://`` URL or a
            :class:`~osfutures.journal.Journal`; ``None`` (the default) uses the
            ``OSFUTURES_JOURNAL`` environment variable if set; ``False`` none.

    Raises:
        ValueError, TypeError: ``waiting`` or the ``osfutures:`` section names an
            unknown kind or holds a bad value (the message says where); ``journal``
            (or ``OSFUTURES_JOURNAL``) is of the wrong type or names no store.
        FileNotFoundError: the journal file's directory does not exist.
        SchemaTooNew: the journal was written by a newer osfutures.
    """

    if TYPE_CHECKING:
        # Type checkers see each proxy that has twins as its openstacksdk proxy class
        # plus the twins (osfutures/openstack/twins.pyi, made from the spec table by
        # scripts/generate-twin-types); at run time __getattr__ gives AsyncProxy objects.
        compute: AsyncCompute
        block_storage: AsyncBlockStorage
        image: AsyncImage
        orchestration: AsyncOrchestration
        load_balancer: AsyncLoadBalancer
        shared_file_system: AsyncSharedFileSystem
        baremetal: AsyncBaremetal

    def __init__(
        self,
        conn: Any,
        *,
        monitor: Monitor | None = None,
        waiting: Mapping[str, Waiting] | None = None,
        journal: JournalArgument = None,
    ) -> None:
        if isinstance(conn, AsyncConnection):
            conn = conn.unwrap()
        config = getattr(getattr(conn, "config", None), "config", None)
        self._waiting = waiting_for(config if isinstance(config, Mapping) else {}, waiting)
        self._conn = conn
        self._monitor = monitor
        self._proxies: dict[str, AsyncProxy] = {}
        self._journal = twin_journal(journal, conn)
        sharing = self._journal.sharing() if self._journal is not None else None
        if sharing is not None and self._journal is not None:
            with _listings_lock:
                _clusters[conn] = sharing
            adopter_for(self._journal.journal).add(self)

    def unwrap(self) -> Any:
        """The plain openstacksdk Connection."""
        return self._conn

    def watch(
        self,
        kind: str,
        resource_id: str,
        *,
        status: str | Collection[str] | None = None,
        gone: bool = False,
        timeout: float | None = None,
        interval: PollInterval | float | None = None,
    ) -> OperationFuture[Any]:
        """A future for an object that exists, until it reaches ``status`` (or is
        gone): the waiting of openstacksdk's ``wait_for_status``, batched with every
        other watched object of its kind on this connection.

        Args:
            kind: ``"server"``, ``"volume"``, ``"snapshot"``, ``"backup"``,
                ``"image"``, ``"stack"``, ``"load_balancer"``, ``"listener"``,
                ``"pool"``, ``"share"`` or ``"node"``.
            resource_id: the object's id.
            status: the state (or states) that end the wait; default: the state its
                kind's creation ends in (``ACTIVE`` for a server). The failure states
                of its creation fail it (``ERROR``), with the cloud's explanation.
            gone: wait until the object no longer exists instead.
            timeout: seconds until the deadline (default: the kind's, else the
                monitor's).
            interval: seconds between polls, or a :class:`~osfutures.PollInterval`.

        Raises:
            ValueError: an unknown kind (the message lists them), ``status`` with
                ``gone``, or an empty ``status``.
            TypeError: ``resource_id`` is not a string, ``status`` a bare set member.
        """
        return watch_existing(
            self._conn,
            kind,
            resource_id,
            status=status,
            gone=gone,
            timeout=timeout if timeout is not None else self._waiting_of(kind).timeout,
            interval=interval if interval is not None else self._waiting_of(kind).interval,
            monitor=self._monitor or default_monitor(),
        )

    def _waiting_of(self, kind: str) -> Waiting:
        return self._waiting.get(kind) or _WAIT_AS_THE_MONITOR

    def resume(
        self,
        token: str,
        *,
        timeout: float | None = None,
        interval: PollInterval | float | None = None,
    ) -> OperationFuture[Any]:
        """A future for the operation a continuation token names
        (:meth:`osfutures.OperationFuture.token`), in this process or another.

        The object is fetched once at once, on this thread: an operation that ended
        while nobody watched resolves (or fails) as it ended, even past its deadline.
        Otherwise it is watched as its twin watched it, until the deadline the token
        holds. Its result is the object as fetched (``sync_res`` is None: the call
        was made elsewhere).

        Args:
            token: from ``future.token()``.
            timeout: seconds from now, instead of the token's own deadline.
            interval: seconds between polls, or a :class:`~osfutures.PollInterval`.

        Raises:
            TypeError, ValueError: not a token, a damaged one, or one of another
                cloud, region or project than this connection's; ``timeout`` or
                ``interval`` out of range.
            MonitorShutdown, MonitorCrashed: the monitor takes no more work.
        """
        return resume_twin(
            self._conn,
            token,
            timeout=timeout,
            interval=interval,
            monitor=self._monitor or default_monitor(),
        )

    def _resume_retrying(
        self,
        retry: resuming.RetryState,
        running: str | OperationFuture[Any],
        relay: AttemptRelay | None,
        interval: PollInterval | float | None,
    ) -> OperationFuture[Any]:
        """Go on with a retrying operation from its row: its running attempt watched
        again (``running``: the row's token, its latest attempt's, or the attempt's
        future already), then the attempts left (see :func:`osfutures.resume`)."""
        current = None
        if retry.running:
            current = (
                self.resume(running, interval=interval) if isinstance(running, str) else running
            )
            if current.resource_id != retry.attempts[-1].resource_id:
                current.cancel()
                raise ValueError(
                    f"token: watches {current.resource_id}, not the running attempt's"
                    f" {retry.attempts[-1].resource_id}"
                )
            if relay is not None:
                relay.started(current)
        proxy = getattr(self, retry.spec.service)
        try:
            outer: OperationFuture[Any] = proxy._continue_retrying(
                retry, current, relay, interval, self._monitor or default_monitor()
            )
        except BaseException:
            if current is not None:
                current.cancel()
            raise
        return outer

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._conn, name)
        if name not in _SERVICES:
            return value
        proxy = self._proxies.get(name)
        if proxy is None or proxy._proxy is not value:
            proxy = self._proxies[name] = AsyncProxy(
                self._conn, name, value, self._monitor, self._waiting, self._journal
            )
        return proxy

    @property
    def journal(self) -> Journal | None:
        """The journal keeping this connection's operations, or ``None``."""
        return None if self._journal is None else self._journal.journal

    def __dir__(self) -> list[str]:
        return sorted(set(dir(self._conn)) | set(self.__dict__))

    def __repr__(self) -> str:
        return f"<AsyncConnection of {self._conn!r}>"

    def __enter__(self) -> AsyncConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.close()
