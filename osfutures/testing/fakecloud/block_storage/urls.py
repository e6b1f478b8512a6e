"""Cinder's routing table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..service import Handler, Route

if TYPE_CHECKING:
    from .responses import BlockStorageResponses

#: The catalog endpoint carries the project id, as cinder's has.
PROJECT = "/v3/<project_id>"
VOLUME = "/volumes/<volume_id>"
SNAPSHOT = "/snapshots/<snapshot_id>"
BACKUP = "/backups/<backup_id>"
MESSAGE = "/messages/<message_id>"


def routes(r: BlockStorageResponses) -> list[Route]:
    """Return the block storage routes, answered by ``r``."""
    scoped: list[tuple[str, tuple[str, ...], Handler]] = [
        ("/volumes", ("GET",), r.list_volumes),
        ("/volumes/detail", ("GET",), r.list_volumes_detail),
        ("/volumes", ("POST",), r.create_volume),
        (VOLUME, ("GET",), r.show_volume),
        (VOLUME, ("DELETE",), r.delete_volume),
        (VOLUME + "/action", ("POST",), r.volume_action),
        ("/types", ("GET",), r.list_types),
        ("/types/<type_id>", ("GET",), r.show_type),
        ("/snapshots", ("GET",), r.list_snapshots),
        ("/snapshots/detail", ("GET",), r.list_snapshots_detail),
        ("/snapshots", ("POST",), r.create_snapshot),
        (SNAPSHOT, ("GET",), r.show_snapshot),
        (SNAPSHOT, ("DELETE",), r.delete_snapshot),
        ("/backups", ("GET",), r.list_backups),
        ("/backups/detail", ("GET",), r.list_backups_detail),
        ("/backups", ("POST",), r.create_backup),
        (BACKUP, ("GET",), r.show_backup),
        (BACKUP, ("DELETE",), r.delete_backup),
        (BACKUP + "/restore", ("POST",), r.restore_backup),
        ("/messages", ("GET",), r.list_messages),
        (MESSAGE, ("GET",), r.show_message),
        (MESSAGE, ("DELETE",), r.delete_message),
    ]
    return [
        Route("/", ("GET",), r.versions, public=True),
        Route("/v3/", ("GET",), r.version, public=True),
        *(Route(PROJECT + rule, methods, r.scoped(handler)) for rule, methods, handler in scoped),
    ]
