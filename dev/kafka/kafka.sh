#!/usr/bin/env bash
# A single-node Apache Kafka (KRaft, combined broker + controller) on 127.0.0.1 for development,
# tests and the demo. No Docker: the jars come from Maven Central through dev/kafka/pom.xml and are
# cached outside the repository, so a second run downloads nothing.
#
#   dev/kafka/kafka.sh start|stop|status|reset|fetch|bootstrap|secure-bootstrap|client-properties
#   dev/kafka/kafka.sh topics ...           # the real kafka-topics tool from the same jars
#   dev/kafka/kafka.sh consumer-groups ...  # the real kafka-consumer-groups tool
#
# Two client listeners, as a managed Kafka has one: PLAINTEXT on the port, and SASL_SSL on
# port + 2 (SCRAM-SHA-512, SCRAM-SHA-256, PLAIN and OAUTHBEARER over TLS; OAUTHBEARER with Kafka's
# unsecured-JWT validator, so a test's token endpoint can issue tokens without a key). Start-up
# makes, once, a CA and the broker's certificate (for 127.0.0.1 and localhost) in <data>/tls/, the SCRAM user 'streamvane'
# with a random password in <data>/sasl/password (mode 600), and <data>/sasl/client.properties
# for the Java tools (`consumer-groups --command-config "$(kafka.sh client-properties)"`).
#
# Environment (all optional):
#   STREAMVANE_KAFKA_PORT       broker port on 127.0.0.1 (default 19092; controller uses port + 1)
#   STREAMVANE_KAFKA_CACHE      where the jars are cached (default ~/.cache/streamvane/kafka)
#   STREAMVANE_KAFKA_DATA       data, logs, pid file (default <repo>/.kafka, or .kafka-PORT on another port)
#   STREAMVANE_KAFKA_HEAP       JVM heap (default 512m)
#   STREAMVANE_KAFKA_READY_TIMEOUT  seconds to wait for the broker (default 60)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
kafka_version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
port="${STREAMVANE_KAFKA_PORT:-19092}"
controller_port="$((port + 1))"
secure_port="$((port + 2))"
cache="${STREAMVANE_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/streamvane/kafka}"
libs="$cache/$kafka_version/libs"
default_data="$repo/.kafka"
[ "$port" = 19092 ] || default_data="$repo/.kafka-$port"  # one broker per port, each with its own data
data="${STREAMVANE_KAFKA_DATA:-$default_data}"
pidfile="$data/kafka.pid"
logfile="$data/kafka.out"
props="$data/server.properties"
ready_timeout="${STREAMVANE_KAFKA_READY_TIMEOUT:-60}"
bootstrap="127.0.0.1:$port"
secure_bootstrap="127.0.0.1:$secure_port"
tls="$data/tls"
sasl="$data/sasl"
sasl_user="streamvane"

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
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port,SASL_SSL://127.0.0.1:$secure_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SASL_SSL://127.0.0.1:$secure_port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN,OAUTHBEARER
listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$sasl_user="$(cat "$sasl/password")";
ssl.keystore.type=PKCS12
ssl.keystore.location=$tls/broker.p12
ssl.keystore.password=$(cat "$tls/store-password")
ssl.client.auth=none
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

# The dev CA, the broker's certificate and the SCRAM user's password: made once per data directory.
write_credentials() {
  mkdir -p "$tls" "$sasl"
  chmod 700 "$tls" "$sasl"
  if [ ! -f "$tls/broker.p12" ]; then
    command -v openssl >/dev/null || die "openssl is required to make the SASL_SSL listener's certificates"
    log "making a dev CA and the broker's TLS certificate in $tls"
    openssl rand -hex 16 >"$tls/store-password"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tls/ca.key" -out "$tls/ca.crt" -days 3650 \
      -subj "/CN=Streamvane dev CA" >/dev/null 2>&1
    openssl req -newkey rsa:2048 -nodes -keyout "$tls/broker.key" -out "$tls/broker.csr" \
      -subj "/CN=localhost" >/dev/null 2>&1
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$tls/broker.ext"
    openssl x509 -req -in "$tls/broker.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
      -out "$tls/broker.crt" -days 3650 -extfile "$tls/broker.ext" >/dev/null 2>&1
    openssl pkcs12 -export -in "$tls/broker.crt" -inkey "$tls/broker.key" -certfile "$tls/ca.crt" \
      -out "$tls/broker.p12" -passout "pass:$(cat "$tls/store-password")"
  fi
  if [ ! -f "$sasl/password" ]; then
    (umask 077; openssl rand -hex 16 >"$sasl/password")
  fi
  printf '%s\n' "$sasl_user" >"$sasl/username"
  (umask 077; printf '%s\n' \
    "security.protocol=SASL_SSL" \
    "sasl.mechanism=SCRAM-SHA-512" \
    "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$sasl_user\" password=\"$(cat "$sasl/password")\";" \
    "ssl.truststore.type=PEM" \
    "ssl.truststore.location=$tls/ca.crt" >"$sasl/client.properties")
}

# SCRAM credentials live in the cluster metadata: upserted through the plaintext listener.
add_scram_user() {
  local password
  password="$(cat "$sasl/password")"
  local mechanism
  for mechanism in SCRAM-SHA-512 SCRAM-SHA-256; do  # one credential per request
    java_cp tool kafka.admin.ConfigCommand --bootstrap-server "$bootstrap" --alter \
      --add-config "$mechanism=[password=$password]" \
      --entity-type users --entity-name "$sasl_user" >"$data/scram.out" 2>&1 \
      || { grep -v 'password=' "$data/scram.out" | tail -n 20 >&2; die "could not create the SCRAM user $sasl_user"; }
  done
  rm -f "$data/scram.out"
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
  write_credentials
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
      add_scram_user
      log "ready on $bootstrap and SASL_SSL $secure_bootstrap after ${waited}s (pid $(cat "$pidfile"))"
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
    echo "running pid=$pid bootstrap=$bootstrap sasl_ssl=$secure_bootstrap version=$kafka_version data=$data"
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
  secure-bootstrap) echo "$secure_bootstrap" ;;
  client-properties) echo "$sasl/client.properties" ;;
  topics) fetch; mkdir -p "$data"; write_log_config; java_cp tool org.apache.kafka.tools.TopicCommand "$@" ;;
  consumer-groups)
    fetch; mkdir -p "$data"; write_log_config
    java_cp tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand "$@" ;;
  *) echo "usage: $0 start|stop|status|reset|fetch|bootstrap|secure-bootstrap|client-properties|topics ...|consumer-groups ..." >&2; exit 2 ;;
esac
