#!/usr/bin/env bash
# Runs the tower's integration tests against a real ClickHouse cluster: cluster.yml (2 shards x 2
# replicas, 3 Keeper nodes). What the in-process harness (tests/support/cluster.py) cannot show runs
# here: Replicated tables, ON CLUSTER DDL, one migration history for the cluster, replicas answering
# for each other, processes starting while a node is down.
#
# Needs Docker with compose v2 and the project's test dependencies (pip install -e '.[test]').
# KEEP=1 leaves the cluster running afterwards. Extra arguments go to pytest.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
secret() { python3 -c 'import secrets; print(secrets.token_hex(24))'; }
export CLICKHOUSE_PASSWORD=${CLICKHOUSE_PASSWORD:-$(secret)}
export CLICKHOUSE_CLUSTER_SECRET=${CLICKHOUSE_CLUSTER_SECRET:-$(secret)}
export CLICKHOUSE_INTERSERVER_PASSWORD=${CLICKHOUSE_INTERSERVER_PASSWORD:-$(secret)}
compose=(docker compose -f "$here/cluster.yml")

if [[ "${KEEP:-0}" != 1 ]]; then
    trap '"${compose[@]}" down -v' EXIT
fi
"${compose[@]}" up -d --wait keeper-1 keeper-2 keeper-3 ch-s1-r1 ch-s1-r2 ch-s2-r1 ch-s2-r2

replica1="http://tower:${CLICKHOUSE_PASSWORD}@localhost:8123"
replica2="http://tower:${CLICKHOUSE_PASSWORD}@localhost:8124"
cd "$root"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"

echo "== the test suite on the replicated single-shard cluster 'tower' (through replica 1)"
TOWER_TEST_CLICKHOUSE_URL="$replica1" \
TOWER_TEST_CLICKHOUSE_CLUSTER=tower \
TOWER_TEST_CLICKHOUSE_REPLICA_URL="$replica2" \
    python3 -m pytest tests/storage tests/cluster tests/kpis tests/alerts tests/collector \
        -m "not browser" -p no:cacheprovider "$@"

echo "== tower migrate refuses the two-shard cluster 'tower_sharded'"
if TOWER_STORAGE__DSN="$replica1/otel_refused" TOWER_STORAGE__CLUSTER=tower_sharded \
        TOWER_STORAGE__LAYOUT=sharded python3 -m tower migrate; then
    echo "tower migrate accepted the sharded layout" >&2
    exit 1
fi

echo "== migrate once, then a process starts with replica 2 down (no DDL at start-up)"
export TOWER_STORAGE__CLUSTER=tower TOWER_STORAGE__LAYOUT=replicated
TOWER_STORAGE__DSN="$replica1/otel_start" python3 -m tower migrate
"${compose[@]}" stop ch-s1-r2
TOWER_STORAGE__DSN="$replica1/otel_start" python3 -m tower migrate --check
"${compose[@]}" start ch-s1-r2
echo "== a process reaching replica 2 finds the same migration history"
"${compose[@]}" up -d --wait ch-s1-r2
TOWER_STORAGE__DSN="$replica2/otel_start" python3 -m tower migrate --check --wait 60
echo "cluster tests passed"
