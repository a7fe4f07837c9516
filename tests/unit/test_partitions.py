"""Partitioned streams: key names, the stable choice of a partition, the division among consumers."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from shared.bus.client import cluster_client, is_cluster_url, redis_client
from shared.bus.leases import lease_key, share
from shared.bus.partitions import partition_of
from shared.settings import Settings

PARTNERSHIP = "5b0f8a4e-51a5-4b8e-9c43-0f4f0b7b2d11"


def _event(type_: str, subject: uuid.UUID, partnership: str | None = None, **extra: object) -> dict[str, object]:
    return {"type": type_, "subject_id": str(subject), "partnership_id": partnership, **extra}


def test_one_partition_keeps_the_stream_keys_of_today() -> None:
    settings = Settings(stream_prefix="{cpted}")
    assert settings.streams("audits") == ["{cpted}:audits"]
    assert settings.all_streams(["audits", "events"]) == ["{cpted}:audits", "{cpted}:events"]


@pytest.mark.parametrize("prefix", ["cpted", "{cpted}"])
def test_each_partition_has_a_slot_of_its_own_and_its_lease_beside_it(prefix: str) -> None:
    settings = Settings(stream_prefix=prefix, stream_partitions=8)
    keys = settings.all_streams(["audits", "events"])
    assert len(set(keys)) == 16
    assert len({key_slot(k.encode()) for k in keys}) == 16
    assert all(key_slot(lease_key(k).encode()) == key_slot(k.encode()) for k in keys)


def test_the_partition_is_the_same_in_every_process_and_release() -> None:
    # A pinned value: Python's hash() would change from one process to the next.
    assert partition_of(_event("audit.created", uuid.uuid4(), PARTNERSHIP), 8) == 7
    assert partition_of(_event("audit.created", uuid.uuid4(), PARTNERSHIP.upper()), 8) == 7


def test_an_audit_its_recommendations_and_photos_share_their_partnerships_partition() -> None:
    audit, rec, photo = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    events = [
        _event("audit.created", audit, PARTNERSHIP),
        _event("recommendation.created", rec, PARTNERSHIP),
        _event("recommendation.status_changed", rec, PARTNERSHIP),
        _event("photo.added", photo, PARTNERSHIP),
        _event("audit.deleted", audit, PARTNERSHIP),
    ]
    assert len({partition_of(e, 8) for e in events}) == 1


def test_a_subject_whose_partnership_changes_stays_on_its_partition() -> None:
    request, event = uuid.uuid4(), uuid.uuid4()
    others = [str(uuid.uuid4()) for _ in range(20)]
    assert len({partition_of(_event("audit_request.updated", request, p), 8) for p in [None, *others]}) == 1
    lists = [[p] for p in others]
    assert len({partition_of(_event("event.updated", event, None, partnership_ids=ps), 8) for ps in lists}) == 1


def test_neighbourhoods_follow_their_own_id_and_reference_data_its_subject() -> None:
    hood = uuid.uuid4()
    created = _event("neighbourhood.created", hood, None, neighbourhood_id=str(hood))
    assert partition_of(created, 8) == partition_of(_event("material.created", hood), 8)


def test_subjects_spread_over_every_partition() -> None:
    spread = Counter(partition_of(_event("audit.created", uuid.uuid4(), str(uuid.uuid4())), 8) for _ in range(4000))
    assert set(spread) == set(range(8))
    assert min(spread.values()) > 400  # 500 each on average


def test_live_members_divide_the_partitions_without_overlap_or_gap() -> None:
    partitions = [f"p{n}" for n in range(16)]
    members = ["c-2", "c-1", "c-3"]
    shares = [share(partitions, members, m) for m in members]
    assert set().union(*shares) == set(partitions)
    assert sum(len(s) for s in shares) == 16
    assert sorted(len(s) for s in shares) == [5, 5, 6]
    assert share(partitions, ["c-1"], "c-1") == set(partitions)


def test_a_cluster_url_names_its_seed_nodes() -> None:
    url = "redis+cluster://user:s%40cret@10.0.0.1:7000,10.0.0.2:7001"
    assert is_cluster_url(url) and not is_cluster_url("redis://127.0.0.1:6379/0")
    client = cluster_client(url)
    assert isinstance(client, RedisCluster)
    assert [(n.host, n.port) for n in client.nodes_manager.startup_nodes.values()] == [
        ("10.0.0.1", 7000),
        ("10.0.0.2", 7001),
    ]
    assert client.connection_kwargs["password"] == "s@cret"
    assert isinstance(redis_client(Settings(redis_url=url)), RedisCluster)
    assert not isinstance(redis_client(Settings(redis_url="redis://127.0.0.1:6379/0")), RedisCluster)
    with pytest.raises(ValueError, match="host:port"):
        cluster_client("redis+cluster://10.0.0.1")
