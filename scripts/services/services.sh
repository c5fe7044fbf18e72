#!/usr/bin/env bash
# Readies the real service stack on this machine without Docker:
#   PostgreSQL and Redis (checked; started, or installed from Debian, when missing),
#   Apache Kafka (single-node KRaft broker from Maven Central jars) on 127.0.0.1:9092,
#   S3Proxy (S3-compatible object store, filesystem backend) on 127.0.0.1:9000.
# Usage: npm run services -- up|down|status   (idempotent; see docs/services.md)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${ALGOTRADE_SERVICES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/algotrade-services}"
KAFKA_DIR="$CACHE/kafka"
S3_DIR="$CACHE/s3proxy"
KAFKA_PORT=9092
S3_PORT=9000
mkdir -p "$CACHE"

log() { printf '[services] %s\n' "$*"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { # port seconds name
  local i
  for ((i = 0; i < $2 * 4; i++)); do port_open "$1" && return 0; sleep 0.25; done
  log "$3 did not open port $1 within $2 s"; return 1
}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  log "installing $* from Debian"
  as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

postgres_up() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then log "postgres: running"; else
    command -v pg_ctlcluster >/dev/null || apt_install postgresql
    local ver; ver=$(ls /etc/postgresql | sort -V | tail -1)
    log "postgres: starting cluster $ver/main"
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    wait_port 5432 30 postgres
    # trust auth on loopback and a `test` database, as the test suites expect
    local hba="/etc/postgresql/$ver/main/pg_hba.conf"
    if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba" 2>/dev/null; then
      as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
      as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
    fi
  fi
  psql -h 127.0.0.1 -U postgres -tAc "select 1 from pg_database where datname='test'" 2>/dev/null | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -c 'create database test' >/dev/null 2>&1 \
    || as_root su postgres -c "psql -c 'create database test'" >/dev/null 2>&1 || true
}

redis_up() {
  # the binaries are needed even when a Redis already runs (the outage test starts one of its own)
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || apt_install redis-server
  if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then log "redis: running"; else
    log "redis: starting"
    mkdir -p /tmp/algotrade-redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp/algotrade-redis --logfile /tmp/algotrade-redis/redis.log
    wait_port 6379 15 redis
  fi
  # BullMQ requires that Redis never evicts its keys
  redis-cli -h 127.0.0.1 config set maxmemory-policy noeviction >/dev/null 2>&1 || true
}

need_java() {
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  command -v mvn >/dev/null || apt_install maven
}

fetch_libs() { # pom dest
  if [ -f "$2/.complete" ]; then return 0; fi
  need_java
  log "fetching $(basename "$1" -pom.xml) jars from Maven Central into $2 (first run only)"
  rm -rf "$2" && mkdir -p "$2"
  mvn -B -q -f "$1" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$2"
  touch "$2/.complete"
}

kafka_up() {
  if port_open $KAFKA_PORT; then log "kafka: running on 127.0.0.1:$KAFKA_PORT"; return 0; fi
  fetch_libs "$HERE/maven/kafka-pom.xml" "$KAFKA_DIR/libs"
  mkdir -p "$KAFKA_DIR/data"
  cat >"$KAFKA_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:9093
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:9093
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
PROPS
  cat >"$KAFKA_DIR/log4j.properties" <<PROPS
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$KAFKA_DIR/kafka.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
PROPS
  local cp="$KAFKA_DIR/libs/*"
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    local uuid; uuid=$(java -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" -cp "$cp" kafka.tools.StorageTool random-uuid)
    java -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" -cp "$cp" kafka.tools.StorageTool format -t "$uuid" -c "$KAFKA_DIR/server.properties" --ignore-formatted >/dev/null
  fi
  log "kafka: starting KRaft broker"
  : >"$KAFKA_DIR/kafka.log"
  # the JVM settings of Kafka's own start scripts (kafka-server-start.sh, kafka-run-class.sh): G1 with a
  # 20 ms pause goal (the JVM's default goal is 200 ms, and a broker's pauses are its clients' latency)
  local jvm="${KAFKA_JVM_OPTS:--Xmx1G -Xms1G -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}"
  # shellcheck disable=SC2086 # word splitting of the options is wanted
  nohup java $jvm -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" -cp "$cp" kafka.Kafka \
    "$KAFKA_DIR/server.properties" >"$KAFKA_DIR/stdout.log" 2>&1 &
  echo $! >"$KAFKA_DIR/pid"
  wait_port $KAFKA_PORT 90 kafka || { tail -20 "$KAFKA_DIR/kafka.log" "$KAFKA_DIR/stdout.log"; return 1; }
  # the port opens before the broker has finished starting: wait for its own "started" line
  local i
  for ((i = 0; i < 120; i++)); do
    # log4j writes to kafka.log (see log4j.properties); stdout only gets what bypasses log4j
    if grep -qs 'Kafka Server started' "$KAFKA_DIR/kafka.log" "$KAFKA_DIR/stdout.log"; then
      log "kafka: ready on 127.0.0.1:$KAFKA_PORT"; return 0
    fi
    sleep 0.5
  done
  log "kafka: broker did not report itself started"; tail -20 "$KAFKA_DIR/kafka.log" "$KAFKA_DIR/stdout.log"; return 1
}

s3_up() {
  if port_open $S3_PORT; then log "s3proxy: running on 127.0.0.1:$S3_PORT"; return 0; fi
  fetch_libs "$HERE/maven/s3proxy-pom.xml" "$S3_DIR/libs"
  mkdir -p "$S3_DIR/data"
  cat >"$S3_DIR/s3proxy.properties" <<PROPS
s3proxy.authorization=none
s3proxy.endpoint=http://127.0.0.1:$S3_PORT
jclouds.provider=filesystem
jclouds.filesystem.basedir=$S3_DIR/data
PROPS
  log "s3proxy: starting"
  nohup java -Xmx256m -cp "$S3_DIR/libs/*" org.gaul.s3proxy.Main --properties "$S3_DIR/s3proxy.properties" \
    >"$S3_DIR/stdout.log" 2>&1 &
  echo $! >"$S3_DIR/pid"
  wait_port $S3_PORT 60 s3proxy || { tail -20 "$S3_DIR/stdout.log"; return 1; }
  log "s3proxy: ready on 127.0.0.1:$S3_PORT"
}

stop_pid() { # dir name
  if [ -f "$1/pid" ] && kill -0 "$(cat "$1/pid")" 2>/dev/null; then
    log "$2: stopping"; kill "$(cat "$1/pid")"
    local i; for ((i = 0; i < 60; i++)); do kill -0 "$(cat "$1/pid")" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$(cat "$1/pid")" 2>/dev/null || true
  else log "$2: not started by this script"; fi
  rm -f "$1/pid"
}

status() {
  pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && log "postgres: up" || log "postgres: down"
  redis-cli -h 127.0.0.1 ping 2>/dev/null | grep -q PONG && log "redis: up" || log "redis: down"
  port_open $KAFKA_PORT && log "kafka: up (127.0.0.1:$KAFKA_PORT)" || log "kafka: down"
  port_open $S3_PORT && log "s3proxy: up (127.0.0.1:$S3_PORT)" || log "s3proxy: down"
}

case "${1:-status}" in
  up) postgres_up; redis_up; kafka_up; s3_up; status ;;
  down) stop_pid "$S3_DIR" s3proxy; stop_pid "$KAFKA_DIR" kafka ;;
  kafka-restart) stop_pid "$KAFKA_DIR" kafka; kafka_up ;; # the broker restart fault test
  status) status ;;
  *) echo "usage: npm run services -- up|down|status|kafka-restart" >&2; exit 2 ;;
esac
