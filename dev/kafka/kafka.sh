#!/usr/bin/env bash
# A single-node Apache Kafka (KRaft, combined broker + controller) on 127.0.0.1 for development,
# tests and the demo. No Docker: the jars come from Maven Central through dev/kafka/pom.xml and are
# cached outside the repository, so a second run downloads nothing.
#
#   dev/kafka/kafka.sh start|stop|status|reset|fetch|bootstrap
#   dev/kafka/kafka.sh topics ...           # the real kafka-topics tool from the same jars
#   dev/kafka/kafka.sh consumer-groups ...  # the real kafka-consumer-groups tool
#
# Environment (all optional):
#   STREAMVANE_KAFKA_PORT       broker port on 127.0.0.1 (default 19092; controller uses port + 1)
#   STREAMVANE_KAFKA_CACHE      where the jars are cached (default ~/.cache/streamvane/kafka)
#   STREAMVANE_KAFKA_DATA       data, logs, pid file (default <repo>/.kafka)
#   STREAMVANE_KAFKA_HEAP       JVM heap (default 512m)
#   STREAMVANE_KAFKA_READY_TIMEOUT  seconds to wait for the broker (default 60)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
kafka_version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
port="${STREAMVANE_KAFKA_PORT:-19092}"
controller_port="$((port + 1))"
cache="${STREAMVANE_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/streamvane/kafka}"
libs="$cache/$kafka_version/libs"
data="${STREAMVANE_KAFKA_DATA:-$repo/.kafka}"
pidfile="$data/kafka.pid"
logfile="$data/kafka.out"
props="$data/server.properties"
ready_timeout="${STREAMVANE_KAFKA_READY_TIMEOUT:-60}"
bootstrap="127.0.0.1:$port"

log() { printf 'kafka: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

fetch() {
  if [ -f "$libs/.complete" ]; then
    return 0
  fi
  command -v mvn >/dev/null || die "Maven (mvn) is required to fetch Kafka $kafka_version"
  command -v java >/dev/null || die "Java 17+ is required to run Kafka $kafka_version"
  log "fetching Apache Kafka $kafka_version jars from Maven Central into $libs (once)"
  rm -rf "$libs"
  mkdir -p "$libs"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs" >"$cache/mvn-$kafka_version.log" 2>&1 \
    || { tail -n 30 "$cache/mvn-$kafka_version.log" >&2; die "Maven could not fetch Kafka $kafka_version"; }
  touch "$libs/.complete"
}

write_log_config() {
  cat >"$data/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$data/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
EOF
  cat >"$data/tools-log4j.properties" <<EOF
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

write_properties() {
  cat >"$props" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data/logs
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
log.retention.check.interval.ms=60000
log.cleaner.backoff.ms=1000
log.segment.bytes=67108864
EOF
}

java_cp() {
  local kind="$1"; shift
  local log_conf="$data/tools-log4j.properties"
  [ "$kind" = server ] && log_conf="$data/log4j.properties"
  java -Xms128m "-Xmx${STREAMVANE_KAFKA_HEAP:-512m}" -XX:+UseG1GC \
    -Djava.awt.headless=true "-Dlog4j.configuration=file:$log_conf" \
    -cp "$libs/*" "$@"
}

running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null && grep -qa "kafka.Kafka" "/proc/$pid/cmdline" 2>/dev/null; then
    echo "$pid"
    return 0
  fi
  return 1
}

answers() {
  timeout 20 "$0" topics --bootstrap-server "$bootstrap" --list >/dev/null 2>&1
}

start() {
  if pid="$(running_pid)"; then
    log "already running (pid $pid) on $bootstrap"
    return 0
  fi
  fetch
  mkdir -p "$data"
  write_log_config
  write_properties
  if [ ! -f "$data/logs/meta.properties" ]; then
    local cluster_id
    cluster_id="$(java_cp tool kafka.tools.StorageTool random-uuid)"
    java_cp tool kafka.tools.StorageTool format -t "$cluster_id" -c "$props" >"$data/format.out" 2>&1 \
      || { cat "$data/format.out" >&2; die "formatting the KRaft storage failed"; }
  fi
  log "starting Kafka $kafka_version on $bootstrap (data in $data)"
  (setsid bash -c 'exec "$@"' _ java -Xms256m "-Xmx${STREAMVANE_KAFKA_HEAP:-512m}" -XX:+UseG1GC \
      -Djava.awt.headless=true "-Dlog4j.configuration=file:$data/log4j.properties" \
      -cp "$libs/*" kafka.Kafka "$props" >"$logfile" 2>&1 </dev/null &
    echo $! >"$pidfile")
  local waited=0
  while [ "$waited" -lt "$ready_timeout" ]; do
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then  # (its command line may still be mid-exec)
      tail -n 40 "$data/server.log" "$logfile" >&2 2>/dev/null || true
      die "Kafka exited during start-up (log tail above)"
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && answers; then
      log "ready on $bootstrap after ${waited}s (pid $(cat "$pidfile"))"
      return 0
    fi
    sleep 1
    waited=$((waited + 1))
  done
  tail -n 40 "$data/server.log" >&2 2>/dev/null || true
  die "Kafka did not answer a metadata request on $bootstrap within ${ready_timeout}s (log tail above)"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$pidfile"
    log "not running"
    return 0
  fi
  log "stopping pid $pid"
  kill -TERM "$pid"
  for _ in $(seq 1 30); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; log "stopped"; return 0; }
    sleep 1
  done
  log "pid $pid did not stop in 30s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

status() {
  local pid
  if pid="$(running_pid)"; then
    echo "running pid=$pid bootstrap=$bootstrap version=$kafka_version data=$data"
  else
    echo "stopped bootstrap=$bootstrap version=$kafka_version data=$data"
    return 3
  fi
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  reset) stop; rm -rf "$data"; log "data directory wiped" ;;
  bootstrap) echo "$bootstrap" ;;
  topics) fetch; mkdir -p "$data"; write_log_config; java_cp tool org.apache.kafka.tools.TopicCommand "$@" ;;
  consumer-groups)
    fetch; mkdir -p "$data"; write_log_config
    java_cp tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand "$@" ;;
  *) echo "usage: $0 start|stop|status|reset|fetch|bootstrap|topics ...|consumer-groups ..." >&2; exit 2 ;;
esac
