"""How an operation is watched: small values that :meth:`Monitor.watch` takes.

What the monitor needs to know of an operation, besides how to fetch it, comes in a
few values, each about one thing, so that a caller (the OpenStack twins, a status-URL
poller) builds them once per kind of object instead of threading a dozen options:

* :class:`States`: which states mean success, progress and failure;
* :class:`Reader`: where the status, progress and failure explanation are read from;
* :class:`OnGone`: what it means when the object disappears;
* :class:`Batch` and :class:`BatchMember`: which operations one request polls together.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from osfutures._checks import check_count, require_callable, require_hashable, require_instance

__all__ = [
    "GONE",
    "NOT_LISTED",
    "NOT_YET",
    "Batch",
    "BatchMember",
    "Explanation",
    "Getter",
    "Gone",
    "OnGone",
    "Reader",
    "States",
    "Verdict",
    "attribute_getter",
]


class Gone:
    """What a probe returns (or a ``fetch_many`` maps an item to) for an object that
    no longer exists: :data:`GONE` when nothing more is known (a 404), ``Gone(last)``
    when the probe still has the object's last record (Nova lists a deleted server as
    ``DELETED``), which a deletion then resolves with. A ``fetch`` may also return
    ``None`` for :data:`GONE`.

    Attributes:
        last: the object's last record, or ``None``.
    """

    __slots__ = ("last",)

    def __init__(self, last: Any = None) -> None:
        self.last = last

    def __repr__(self) -> str:
        return "GONE" if self.last is None else f"Gone({self.last!r})"


@dataclass(frozen=True)
class Explanation:
    """Why an operation failed, as the cloud explains it: what a ``watch(inquire=...)``
    returns when it finds out.

    Attributes:
        fault: the explanation in words: :class:`~osfutures.OperationFailed`'s
            ``fault`` and the end of its message.
        details: the record it comes from, as the cloud gave it (JSON-able): Nova's
            instance action with its events, Cinder's or Manila's user message with
            its ``message_id`` and ``event_id``. :class:`~osfutures.OperationFailed`'s
            ``details``.

    Raises:
        TypeError: ``fault`` is not a string or ``details`` not a mapping.
        ValueError: ``fault`` is empty.
    """

    fault: str
    details: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        require_instance("Explanation(fault)", self.fault, str)
        if not self.fault:
            raise ValueError("Explanation(fault): need the explanation in words, got ''")
        require_instance("Explanation(details)", self.details, Mapping, optional=True)


#: An object that no longer exists, nothing more known (see :class:`Gone`).
GONE: Final = Gone()


class _NotListed:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_LISTED"


#: What a :class:`Batch`'s ``fetch_many`` maps an item to when its listing stopped
#: showing the object without saying why: the operation is fetched on its own, which
#: settles whether it is gone. A ``changes_only`` listing needs it, since an item it
#: leaves out is taken as unchanged (Nova deletes a server that is still a build
#: request without a ``DELETED`` entry). Only ``fetch_many`` may return it.
NOT_LISTED: Final = _NotListed()


class _NotYet:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_YET"


#: What a :class:`Batch`'s ``fetch_many`` maps an item to when it has no copy of the
#: object yet but expects one from a coming answer: the member waits for it instead
#: of being fetched on its own (a cluster member that learns of objects from another
#: process's listing answers this until that listing has had its chance). The
#: operation is judged by nothing meanwhile, so ``fetch_many`` must stop answering it
#: in bounded time (then a member never seen is fetched on its own, as usual). Only
#: ``fetch_many`` may return it.
NOT_YET: Final = _NotYet()

#: Reads one field (status, progress, fault) of a fetched object.
Getter = Callable[[Any], Any]


_MISSING = object()


def attribute_getter(name: str) -> Getter:
    """A getter reading ``obj.<name>``, or ``obj[name]`` for mappings; None if absent."""

    def get(obj: Any) -> Any:
        if type(obj) is dict:  # the common case first: no ABC check per poll
            return obj.get(name)
        value = getattr(obj, name, _MISSING)
        if value is _MISSING:
            return obj.get(name) if isinstance(obj, Mapping) else None
        return value

    get.__name__ = f"get_{name}"
    return get


class Verdict(enum.Enum):
    """What a state means for the operation."""

    READY = "ready"
    FAILED = "failed"
    UNEXPECTED = "unexpected"


@dataclass(frozen=True)
class States:
    """Target, pending and failure state sets (Terraform's StateChangeConf).

    States compare case-insensitively (Nova says ``ACTIVE``, Cinder ``available``).
    With a non-empty ``pending`` set, a state in none of the three sets is
    unexpected, which fails the operation; with an empty one, unknown states are
    waited through. Build with :meth:`of`, which checks and normalises.
    """

    target: frozenset[str]
    pending: frozenset[str] = frozenset()
    failure: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        target: Collection[str],
        pending: Collection[str] = (),
        failure: Collection[str] = (),
        *,
        allow_no_target: bool = False,
    ) -> States:
        """Checked, lowercased state sets.

        Raises:
            ValueError: ``target`` is empty (unless allowed: an operation whose
                success is a disappearance), or a state is in two sets.
            TypeError: a set is a plain string (a common slip for ``{"ACTIVE"}``).
        """
        sets = {}
        for name, states in (("target", target), ("pending", pending), ("failure", failure)):
            if isinstance(states, (str, bytes)):
                raise TypeError(
                    f"{name}: expected a collection of states, got the string {states!r}"
                )
            sets[name] = frozenset(str(s).lower() for s in states)
        if not sets["target"] and not allow_no_target:
            raise ValueError("target: need at least one target state, got an empty collection")
        for a, b in (("target", "pending"), ("target", "failure"), ("pending", "failure")):
            if common := sets[a] & sets[b]:
                raise ValueError(f"{a} and {b} share states {sorted(common)}: give each one role")
        return _interned(cls(sets["target"], sets["pending"], sets["failure"]))

    def verdict(self, status: str | None) -> Verdict | None:
        """What ``status`` means: ready, failed, unexpected, or None (keep waiting)."""
        state = "" if status is None else status.lower()
        if state in self.target:
            return Verdict.READY
        if state in self.failure:
            return Verdict.FAILED
        if self.pending and state not in self.pending and status is not None:
            return Verdict.UNEXPECTED
        return None


@functools.lru_cache(maxsize=1024)
def _interned(states: States) -> States:
    # Thousands of operations with the same sets share one object.
    return states


@dataclass(frozen=True)
class Batch:
    """Lets many operations of one kind be polled with one request.

    Operations that are members of batches with the same ``key`` are polled
    together: one call of ``fetch_many(items)`` per poll cycle, with the item of
    every watched operation of that key (an operation joins with
    ``watch(..., batch=batch.member(item))``). It returns a mapping from item to the
    fetched object (or :data:`GONE`). An item it leaves out (or maps to
    :data:`NOT_LISTED`) is fetched on its own with that operation's ``fetch``, which
    settles whether it is gone or was merely not listed.

    With ``changes_only``, the answer holds only the items whose object changed since
    the batch's previous answer (an item it leaves out is as it was last seen), so
    a cycle costs what changed, not what is watched: at a hundred thousand pending
    operations this is the difference between milliseconds and a second per cycle.
    A member that no answer has carried yet (its ``initial`` object does not count)
    and is left out is still fetched on its own, once; so is one the answer maps to
    :data:`NOT_LISTED`. One it maps to :data:`NOT_YET` waits for a later answer.

    A listing costs about the same for one operation as for a thousand, so a batch
    is polled as a whole: as often as its tightest member's ``interval`` asks while
    its members change, backing off while none does.

    Attributes:
        key: anything hashable naming the group, e.g. ``("servers", cloud, project)``.
        fetch_many: fetches many items in as few requests as it can.
        changes_only: ``fetch_many`` answers only what changed since its last answer.
        endpoint: what ``fetch_many``'s requests go to (a URL): the monitor's
            ``max_probes_per_second`` caps the requests to each endpoint. ``None``
            (an in-process fetch) is not capped. A member's own fetch goes to the
            same endpoint unless its ``watch()`` names another.

    Raises:
        TypeError: ``key`` or ``endpoint`` is not hashable, ``fetch_many`` is not
            callable.
    """

    key: Hashable
    fetch_many: Callable[[Sequence[Hashable]], Mapping[Hashable, Any]]
    changes_only: bool = False
    endpoint: Hashable = None

    def __post_init__(self) -> None:
        require_hashable("Batch(key)", self.key)
        require_callable("Batch(fetch_many)", self.fetch_many)
        require_instance("Batch(changes_only)", self.changes_only, bool)
        require_hashable("Batch(endpoint)", self.endpoint)

    def member(self, item: Hashable) -> BatchMember:
        """This batch with the item ``fetch_many`` looks one operation up by.

        Raises:
            TypeError: ``item`` is not hashable.
            ValueError: ``item`` is None.
        """
        return BatchMember(self, item)


@dataclass(frozen=True)
class BatchMember:
    """One operation's place in a :class:`Batch`: the batch, and its item there.

    Attributes:
        batch: the batch that polls the operation.
        item: what ``batch.fetch_many`` looks the operation up by (an id).

    Raises:
        TypeError: ``batch`` is not a :class:`Batch` or ``item`` is not hashable.
        ValueError: ``item`` is None.
    """

    batch: Batch
    item: Hashable

    def __post_init__(self) -> None:
        require_instance("BatchMember(batch)", self.batch, Batch)
        if self.item is None:
            raise ValueError("BatchMember(item): need the item fetch_many looks up, got None")
        require_hashable("BatchMember(item)", self.item)


@dataclass(frozen=True)
class Reader:
    """Where the monitor reads what it reports and judges from a fetched object.

    Each field is an attribute (or mapping key) name, or a callable taking the
    object.

    Attributes:
        status: the object's state, judged by the operation's :class:`States`.
        progress: its progress (a number 0-100 or any JSON-able value).
        fault: the cloud's explanation of a failure, for
            :class:`~osfutures.OperationFailed`; ``None`` for none.
        settled: true once nothing is in progress on the object; until then its
            state does not count (Nova keeps a stopping server ACTIVE until it is
            SHUTOFF). ``None``: every state counts. Used with :class:`States` only.
        result: makes what the caller gets (the future's result, an error's
            ``resource``) from a fetched object; ``None``: the object itself. Lets a
            probe return a light view of each object (a listing's JSON record) and
            build the full one only at the end. A result is made once, when first
            read (``result()``, a chained step), on the reading thread: never by the
            monitor, and never for a result nobody reads. What it raises, that read
            raises. An error's ``resource`` is made when the operation fails.
        details: the record a failure's ``fault`` comes from, as the cloud gave it
            (a mapping, or ``None``): :class:`~osfutures.OperationFailed`'s
            ``details`` when the object's state fails the operation (an HTTP status
            answer's body). ``None``: none read.
        retry_after: seconds the service asked to wait before it is asked again (an
            HTTP ``Retry-After`` on a successful answer), or ``None`` for no such
            wish: the next poll comes no sooner than that after this observation,
            nor sooner than the ``interval`` says. Read on every observation of the
            operation's own ``fetch`` (and of ``initial``); a batch listing is
            polled at its own cadence. ``None`` (the field): not read.

    Raises:
        TypeError: a field is neither a name nor a callable.
    """

    status: str | Getter = "status"
    progress: str | Getter = "progress"
    fault: str | Getter | None = None
    settled: Callable[[Any], bool] | None = None
    result: Callable[[Any], Any] | None = None
    details: str | Getter | None = None
    retry_after: str | Getter | None = None
    # The fields as getters, resolved once: the monitor calls them on every poll.
    status_of: Getter = field(init=False, repr=False, compare=False)
    progress_of: Getter = field(init=False, repr=False, compare=False)
    fault_of: Getter | None = field(init=False, repr=False, compare=False)
    details_of: Getter | None = field(init=False, repr=False, compare=False)
    retry_after_of: Getter | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        require_callable("Reader(settled)", self.settled, optional=True)
        require_callable("Reader(result)", self.result, optional=True)
        object.__setattr__(self, "status_of", _getter("Reader(status)", self.status))
        object.__setattr__(self, "progress_of", _getter("Reader(progress)", self.progress))
        for name in ("fault", "details", "retry_after"):
            value = getattr(self, name)
            getter = None if value is None else _getter(f"Reader({name})", value)
            object.__setattr__(self, f"{name}_of", getter)


@dataclass(frozen=True)
class OnGone:
    """What it means when the watched object disappears.

    Attributes:
        succeed: disappearance is the goal (a deletion): the future resolves with
            the object's last record (a :class:`Gone` probe answer's ``last``), else
            the last copy seen, else ``last``. Otherwise it fails with
            :class:`~osfutures.ResourceGone`.
        after: how many "gone" answers in a row are believed before failing
            (tolerates a 404 right after a creation under eventual consistency).
        last: what a deletion resolves with when no copy of the object was ever
            seen: the object the caller passed (a fast delete may be over before
            the first poll).

    Raises:
        TypeError: ``after`` is not an integer.
        ValueError: ``after`` is less than 1.
    """

    succeed: bool = False
    after: int = 1
    last: Any = field(default=None, compare=False)

    def __post_init__(self) -> None:
        require_instance("OnGone(succeed)", self.succeed, bool)
        check_count("OnGone(after)", self.after)


_STATUS = attribute_getter("status")
_PROGRESS = attribute_getter("progress")


def _getter(arg: str, value: str | Getter) -> Getter:
    if isinstance(value, str):
        return {"status": _STATUS, "progress": _PROGRESS}.get(value) or attribute_getter(value)
    if not callable(value):
        raise TypeError(f"{arg}: expected an attribute name or a callable, got {value!r}")
    return value
