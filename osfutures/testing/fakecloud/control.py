"""The test-control routes under ``/_fake``: stats, faults, the manual clock.

They need no token and are neither counted nor faulted, so a test or benchmark can read
what happened without changing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response

from .clock import isotime
from .errors import BadRequest, Conflict, json_response
from .faults import FaultConfig
from .service import Call, Route, ServiceFrontend

if TYPE_CHECKING:
    from .cloud import FakeCloud

PREFIX = "/_fake"


class ControlResponses(ServiceFrontend):
    """Answers the ``/_fake`` routes for one cloud.

    Args:
        cloud: the cloud to report on and steer.
    """

    def __init__(self, cloud: FakeCloud) -> None:
        super().__init__(cloud.context)
        self.cloud = cloud

    def routes(self) -> Sequence[Route]:
        """Return the control routes."""
        return [
            Route("/stats", ("GET",), self.stats, public=True),
            Route("/stats/reset", ("POST",), self.reset_stats, public=True),
            Route("/faults", ("GET",), self.show_faults, public=True),
            Route("/faults", ("POST",), self.set_faults, public=True),
            Route("/faults", ("DELETE",), self.clear_faults, public=True),
            Route("/clock", ("GET",), self.show_clock, public=True),
            Route("/clock/advance", ("POST",), self.advance_clock, public=True),
        ]

    def stats(self, call: Call) -> Response:
        """GET /_fake/stats: :meth:`FakeCloud.stats`."""
        return json_response(self.cloud.stats())

    def reset_stats(self, call: Call) -> Response:
        """POST /_fake/stats/reset, body ``{"transitions": bool}`` optional: 204."""
        body = self._body(call)
        self.cloud.reset_stats(transitions=bool(body.get("transitions")))
        return Response(status=204)

    def show_faults(self, call: Call) -> Response:
        """GET /_fake/faults: the standing rates and pending one-shot faults."""
        return json_response(self.cloud.faults.snapshot())

    def set_faults(self, call: Call) -> Response:
        """POST /_fake/faults: ``{"set": {...}, "inject": [{...}], "expire_tokens": true}``.

        ``set`` takes :class:`FaultConfig` fields, ``inject`` the arguments of
        :meth:`Faults.inject`.
        """
        body = self._body(call)
        faults = self.cloud.faults
        try:
            if "set" in body:
                merged = {**faults.snapshot()["config"], **body["set"]}
                faults.set(**vars(FaultConfig.from_dict(merged)))
            for spec in body.get("inject", []):
                faults.inject(**spec)
        except (TypeError, ValueError) as error:
            raise BadRequest(str(error)) from None
        if body.get("expire_tokens"):
            faults.expire_tokens()
        return json_response(faults.snapshot())

    def clear_faults(self, call: Call) -> Response:
        """DELETE /_fake/faults: 204, no faults."""
        self.cloud.faults.clear()
        return Response(status=204)

    def show_clock(self, call: Call) -> Response:
        """GET /_fake/clock: scenario time, wall time, whether it is manual."""
        clock = self.context.clock
        return json_response(
            {
                "now": call.now,
                "wall": isotime(clock.wall(call.now), subsecond=True),
                "manual": clock.manual,
            }
        )

    def advance_clock(self, call: Call) -> Response:
        """POST /_fake/clock/advance ``{"seconds": n}``: move a manual clock."""
        clock = self.context.clock
        if not clock.manual:
            raise Conflict("the clock is not manual")
        seconds = self._body(call).get("seconds")
        if not isinstance(seconds, (int, float)) or seconds < 0:
            raise BadRequest("seconds must be a non-negative number")
        try:
            now = clock.advance(float(seconds))
        except ValueError as error:  # not finite
            raise BadRequest(str(error)) from None
        return json_response({"now": now})

    @staticmethod
    def _body(call: Call) -> dict[str, Any]:
        try:
            body = call.json()
        except ValueError:
            raise BadRequest("the body is not JSON") from None
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        return body
