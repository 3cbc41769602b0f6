#!/usr/bin/env bash
# Runs every benchmark of the repository against real infrastructure started here (a local Kafka
# broker and PostgreSQL as plain processes) and prints `BENCH <metric> <value> <unit>` lines.
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-$(command -v uv || echo 'python3 -m uv')}"
export CASEDESK_RUN_DIR="${CASEDESK_RUN_DIR:-$PWD/.run/bench}"
export CASEDESK_KAFKA_PORT="${CASEDESK_BENCH_KAFKA_PORT:-19192}"
export CASEDESK_POSTGRES_PORT="${CASEDESK_BENCH_POSTGRES_PORT:-15532}"
cleanup() {
  bash tools/infra/kafka-local.sh stop >/dev/null 2>&1 || true
  bash tools/infra/postgres-local.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
bash tools/infra/kafka-local.sh start >/dev/null
bash tools/infra/postgres-local.sh start >/dev/null
export CASEDESK_BENCH_KAFKA="127.0.0.1:${CASEDESK_KAFKA_PORT}"
export CASEDESK_BENCH_POSTGRES_HOST=127.0.0.1 CASEDESK_BENCH_POSTGRES_PORT="${CASEDESK_POSTGRES_PORT}"
export CASEDESK_BENCH_POSTGRES_USER=casedesk CASEDESK_BENCH_POSTGRES_PASSWORD=casedesk
export CASEDESK_BENCH_POSTGRES_DBNAME=casedesk
# The machine's own yardstick first, with nothing else of ours running; the intake and case
# benchmarks measure theirs again right before they start, as the machine drifts meanwhile, and
# print their throughputs also relative to it (casedesk_runtime.testing.calibration).
$UV run --frozen python -m casedesk_runtime.testing.calibration
status=0
for bench in libs/*/bench.py services/*/bench.py tools/*/bench.py replay/bench.py; do
  [ -f "$bench" ] || continue
  echo "# $bench" >&2
  $UV run --frozen python "$bench" || { echo "# $bench failed" >&2; status=1; }
done
# The yardstick again, at the end: a shared machine's speed drifts by 10 % or more within
# minutes, and a fixed-rate latency near a path's capacity passes or fails with it.
$UV run --frozen python -m casedesk_runtime.testing.calibration \
  | sed 's/^BENCH machine.grpc_unary_rps /BENCH machine.grpc_unary_rps_after /'
exit $status
