"""Glance's backend: images moving queued -> saving/importing -> active, with no HTTP."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from ..errors import Conflict, Forbidden, NotFound
from ..lifecycle import Resource, ResourceStore, Step
from ..scenario import Outcome, Plan
from ..service import CloudContext

#: Fields that are glance's own; every other key of an image is a custom property.
CORE_FIELDS = (
    "name",
    "disk_format",
    "container_format",
    "visibility",
    "min_disk",
    "min_ram",
    "protected",
    "tags",
    "os_hidden",
)
CIRROS = "cirros-0.6.2-x86_64-disk"


class Image(Resource):
    """A glance image; ``fields`` holds the core fields, status, size and properties."""

    @property
    def name(self) -> str:
        """The image name ('' when unnamed)."""
        return str(self.fields.get("name") or "")


class ImageBackend:
    """The images of one cloud; also serves compute's boot and snapshot needs.

    Args:
        context: the cloud.
    """

    def __init__(self, context: CloudContext) -> None:
        self.context = context
        self.images: ResourceStore[Image] = context.new_store("image")
        self.data: dict[str, bytes] = {}
        self.default_image_id = self._seed_image(CIRROS)

    def _seed_image(self, name: str) -> str:
        image = self.create(
            owner="",
            now=0.0,
            spec={
                "name": name,
                "disk_format": "qcow2",
                "container_format": "bare",
                "visibility": "public",
            },
        )
        data = b"cirros" * 1024
        self.data[image.id] = data
        self.images.schedule(image, 0.0, [Step(0.0, self._active(data))])
        return image.id

    def create(self, owner: str, now: float, spec: Mapping[str, Any]) -> Image:
        """Register a queued image.

        Args:
            spec: core fields and custom properties, as POST /v2/images takes them.

        Raises:
            Conflict: if ``spec["id"]`` is already taken.
        """
        image_id = str(spec.get("id") or self.context.new_uuid())
        if self.images.get(image_id, now) is not None:
            raise Conflict(f"Image with identifier {image_id} already exists!")
        fields: dict[str, Any] = {
            "name": None,
            "disk_format": None,
            "container_format": None,
            "visibility": "shared",
            "min_disk": 0,
            "min_ram": 0,
            "protected": False,
            "tags": [],
            "os_hidden": False,
            "properties": {},
        }
        for key, value in spec.items():
            if key in CORE_FIELDS:
                fields[key] = value
            elif key != "id":
                fields["properties"][key] = value
        fields.update(
            status="queued",
            owner=owner,
            size=None,
            checksum=None,
            os_hash_value=None,
            deleted=False,
        )
        return self.images.add(Image(image_id, now, fields))

    def get(self, image_id: str, now: float) -> Image:
        """Return an image.

        Raises:
            NotFound: with glance's wording.
        """
        found = self.images.get(image_id, now)
        if found is None:
            raise NotFound(f"No image found with ID {image_id}")
        return found

    def upload(self, image_id: str, data: bytes, now: float) -> None:
        """Take image data: saving, then active after the ``image.upload`` timing.

        Raises:
            Conflict: unless the image is queued.
        """
        image = self._transition(image_id, now, ("queued",), "saving")
        plan = self.context.scenario.plan("image", "upload", image.name, image.plan_key())
        self.data[image.id] = data
        steps = [Step(now, {"status": "saving"}), *self._ending(now, plan, data)]
        self.images.schedule(image, now, steps)

    def stage(self, image_id: str, data: bytes, now: float) -> None:
        """Stage data for a later import: ``uploading``.

        Raises:
            Conflict: unless the image is queued.
        """
        image = self._transition(image_id, now, ("queued",), "uploading")
        self.data[image.id] = data
        self.images.schedule(image, now, [Step(now, {"status": "uploading"})])

    def import_(self, image_id: str, now: float) -> None:
        """Import staged data (or a web download): importing, then active.

        Raises:
            Conflict: unless the image is queued or uploading.
        """
        image = self._transition(image_id, now, ("queued", "uploading"), "importing")
        plan = self.context.scenario.plan("image", "import", image.name, image.plan_key())
        data = self.data.setdefault(image.id, b"imported")
        steps = [Step(now, {"status": "importing"}), *self._ending(now, plan, data)]
        self.images.schedule(image, now, steps)

    def delete(self, image_id: str, now: float) -> None:
        """Delete an image at once, as glance does.

        Raises:
            NotFound: if there is no such image.
            Forbidden: if it is protected.
        """
        image = self.get(image_id, now)
        if image.fields["protected"]:
            raise Forbidden(f"Image {image_id} is protected and cannot be deleted.")
        self.images.schedule(image, now, [Step(now, {"status": "deleted", "deleted": True})])
        self.images.discard(image_id)
        self.data.pop(image_id, None)

    def bootable(self, image_id: str, now: float) -> Mapping[str, Any] | None:
        """Return an active image's properties, None if there is no active image."""
        found = self.images.get(image_id, now)
        if found is None or found.fields["status"] != "active":
            return None
        properties: Mapping[str, Any] = found.fields["properties"]
        return properties

    def start_snapshot(
        self,
        name: str,
        owner: str,
        properties: Mapping[str, Any],
        saving_at: float,
        done_at: float | None,
        now: float,
    ) -> str:
        """Create a snapshot image: queued, saving at ``saving_at``, active at ``done_at``.

        Without ``done_at`` (a stuck or failed snapshot) it stays saving.
        """
        image = self.create(
            owner,
            now,
            {"name": name, "disk_format": "qcow2", "container_format": "bare", **properties},
        )
        steps = [Step(saving_at, {"status": "saving"})]
        if done_at is not None:
            steps.append(Step(done_at, self._active(b"snapshot " + image.id.encode())))
        self.images.schedule(image, now, steps)
        return image.id

    def _transition(
        self, image_id: str, now: float, allowed: tuple[str, ...], target: str
    ) -> Image:
        image = self.get(image_id, now)
        status = image.fields["status"]
        if status not in allowed:
            raise Conflict(f"Image status transition from {status} to {target} is not allowed")
        return image

    @classmethod
    def _ending(cls, now: float, plan: Plan, data: bytes) -> list[Step]:
        if plan.outcome is Outcome.STUCK:
            return []
        if plan.outcome is Outcome.ERROR:
            return [Step(now + plan.duration, {"status": "killed"})]
        return [Step(now + plan.duration, cls._active(data))]

    @staticmethod
    def _active(data: bytes) -> dict[str, Any]:
        return {
            "status": "active",
            "size": len(data),
            "checksum": hashlib.md5(data, usedforsecurity=False).hexdigest(),
            "os_hash_value": hashlib.sha512(data).hexdigest(),
        }
