"""The real-time path's servers as the project runs them on one machine, bound to 127.0.0.1:
a single-node Kafka broker (KRaft, broker and controller in one JVM; jars fetched by
scripts/bootstrap.sh) with the stream's topics, and a Redis server whose counters survive
a restart exactly (append-only file, fsync on every write).

Each server lives in its own home directory (config, data, log, pid file) and is started
detached, in its own session: it outlives the `adlake stream up` that started it, and a
Ctrl-C in that terminal does not reach it. A pid file whose process is gone, or whose pid
now belongs to another program, is stale and ignored. Starting and stopping hold a lock
in the home, so two `adlake` commands never start the same server twice.

Imports neither Dagster, Spark nor dbt: the CLI, the services and the tests use it as is.
"""

from __future__ import annotations

import base64
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlsplit

from spark_jobs.kafka_auth import KafkaAuth, client_config
from spark_jobs.stream_layout import DEAD_LETTER_TOPIC, RETENTION, TOPIC_PARTITIONS, TOPICS

if TYPE_CHECKING:
    from ad_assets.settings import Settings

LOCAL_HOSTS = ("127.0.0.1", "localhost")
KAFKA_START_TIMEOUT = 60.0
REDIS_START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
# A server that runs but does not answer within this long is restarted by start().
HEALTHY_TIMEOUT = 10.0
PORT_RELEASE_TIMEOUT = 10.0  # a killed process's sockets close once the kernel has torn it down
LOG_TAIL_CHARS = 3000
STREAM_TOPICS: tuple[str, ...] = (*TOPICS, DEAD_LETTER_TOPIC)
RETENTION_MS = int(RETENTION.total_seconds() * 1000)

# C1 only (no C2 JIT): on two cores shared with Spark the broker starts in about 3 s instead
# of 5 and burns half the CPU doing so, with no throughput loss measurable at this
# project's rates (400k 300-byte records produced in 1-2 s either way).
C1_ONLY = "-XX:TieredStopAtLevel=1"
KAFKA_JVM_OPTS = ("-Xms256m", "-Xmx1g", "-XX:+ExitOnOutOfMemoryError", C1_ONLY)

# The broker's own log at WARN (plus the line saying it started): the file stays small
# and what is in it matters. No shutdown hook: the JVM's exit would log a warning about it.
KAFKA_LOG4J = """\
# Written by AdLake (ad_assets/realtime/servers.py).
status = warn
shutdownHook = disable
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = out
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = info
"""


class ServerError(RuntimeError):
    """A server could not start, answer or stop; the message quotes the end of its log."""


# ------------------------------------------------------------------ processes
def _alive(pid: int) -> bool:
    # A child of this process that exited is a zombie until reaped: reap it, it is gone.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _process(pid: int) -> str | None:
    """The command line of a live process; None if it is gone or a zombie; "" where it
    cannot be read (no /proc: macOS; or no command line yet, between fork and exec), so
    the pid is trusted."""
    if not _alive(pid):
        return None
    if not Path("/proc/self").exists():
        return ""
    # Read through the threads: a JVM's main thread exits first on SIGTERM (its own
    # cmdline then reads empty, its state Z) while the shutdown hooks still run, for a
    # second or more, in the others. Only when every thread is gone is the process.
    try:
        tasks = sorted(Path(f"/proc/{pid}/task").iterdir(), key=lambda t: t.name != str(pid))
    except OSError:
        return None
    for task in tasks:
        try:
            cmdline = (task / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if cmdline:
            return cmdline
    # No thread has a command line: a zombie, or a process caught between fork and exec
    # (right after Popen returns, for a moment): the latter is alive, and trusted.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
    return None if state in ("Z", "X") else ""


def _port_free(port: int) -> bool:
    # SO_REUSEADDR as the servers set it: a port a stopped server left in TIME_WAIT is free.
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class _Daemon:
    """A server process started detached and tracked by a pid file in its home."""

    name = "server"

    def __init__(self, home: Path) -> None:
        self.home = Path(home).resolve()
        self._child: subprocess.Popen | None = None
        self._log_offset = 0

    @property
    def pid_file(self) -> Path:
        return self.home / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.home / f"{self.name}.log"

    def _is_ours(self, cmdline: str) -> bool:
        raise NotImplementedError

    def _healthy(self, timeout: float) -> bool:
        raise NotImplementedError

    def _launch(self) -> None:
        raise NotImplementedError

    def _ask_to_stop(self, pid: int) -> None:
        os.kill(pid, signal.SIGTERM)

    def pid(self) -> int | None:
        """The server's pid; None when there is no pid file or a stale one (removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        cmdline = _process(pid)
        # A pid the system gave to another program since is not ours either.
        if cmdline is not None and (cmdline == "" or self._is_ours(cmdline)):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def running(self) -> bool:
        return self.pid() is not None

    def start(self) -> None:
        """Start the server unless it runs and answers already; return once it answers.
        A server that runs but does not answer is restarted."""
        with self._lock():
            if self.pid() is not None:
                if self._healthy(HEALTHY_TIMEOUT):
                    return
                self._stop()
            self.home.mkdir(parents=True, exist_ok=True)
            try:
                self._launch()
            except BaseException:
                self._stop(5)  # a process that did not come up is not left running
                raise

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Ask the server to stop, wait, and kill it if it is still there after `timeout`."""
        with self._lock():
            self._stop(timeout)

    def restart(self) -> None:
        self.stop()
        self.start()

    @contextmanager
    def _lock(self) -> Iterator[None]:
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / f".{self.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _stop(self, timeout: float = STOP_TIMEOUT) -> None:
        pid = self.pid()
        if pid is None and self._child is not None and self._child.poll() is None:
            pid = self._child.pid  # started here, whatever the pid file says: not left running
        if pid is None:
            return
        self._ask_to_stop(pid)
        if not self._wait_gone(pid, timeout):
            os.kill(pid, signal.SIGKILL)
            if not self._wait_gone(pid, 10):
                self._fail(f"(pid {pid}) survived SIGKILL")
        self.pid_file.unlink(missing_ok=True)
        self._child = None

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while _process(pid) is not None:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _check_ports(self, *ports: int) -> None:
        # A process just killed still holds its sockets while the kernel tears it down
        # (its threads read as gone a moment before): give the port a few seconds.
        deadline = time.monotonic() + PORT_RELEASE_TIMEOUT
        for port in ports:
            while not _port_free(port) and time.monotonic() < deadline:
                time.sleep(0.1)
            if not _port_free(port):
                raise ServerError(
                    f"{self.name}: 127.0.0.1:{port} is in use by another program; "
                    "stop it or configure another port"
                )

    def _spawn(self, cmd: list[str]) -> None:
        self._log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        with open(self.log_file, "ab") as log:
            self._child = subprocess.Popen(
                cmd,
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the command that started it, and its Ctrl-C
            )
        self.pid_file.write_text(f"{self._child.pid}\n")

    def _exited(self) -> int | None:
        """The exit code of the process this object started, if it has exited."""
        return self._child.poll() if self._child is not None else None

    def _log_tail(self) -> str:
        try:
            with open(self.log_file, "rb") as f:
                f.seek(self._log_offset)
                text = f.read().decode(errors="replace")
        except OSError:
            return "(no log)"
        return text[-LOG_TAIL_CHARS:].strip() or "(empty)"

    def _fail(self, why: str) -> NoReturn:
        raise ServerError(f"{self.name} {why}; the end of {self.log_file}:\n{self._log_tail()}")


# ------------------------------------------------------------------ Kafka
def _kafka_admin(bootstrap: str, auth: KafkaAuth | None = None):
    """`auth` None: the environment's (spark_jobs/kafka_auth.py); the broker AdLake starts
    itself is plaintext and passes KafkaAuth()."""
    from confluent_kafka.admin import AdminClient

    # Quiet: while a broker starts, every refused connection would be printed to stderr;
    # failures reach the caller as exceptions. Short reconnect backoff: readiness is seen
    # within half a second rather than after librdkafka's 10-second maximum.
    return AdminClient({**client_config(bootstrap, auth), "log_level": 0, "reconnect.backoff.max.ms": 500})


def _any_listens(bootstrap: str, timeout: float) -> bool:
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
            return True
        except (OSError, ValueError):
            continue
    return False


def kafka_topics(
    bootstrap: str, timeout: float = 5.0, auth: KafkaAuth | None = None
) -> dict[str, int] | None:
    """The broker's topics (internal ones left out) and their partition counts; None if it
    does not answer within `timeout`."""
    from confluent_kafka import KafkaException

    if not _any_listens(bootstrap, min(timeout, 2.0)):
        return None  # at once: librdkafka would retry refused connections for `timeout`
    try:
        md = _kafka_admin(bootstrap, auth).list_topics(timeout=timeout)
    except KafkaException:
        return None
    return {name: len(t.partitions) for name, t in sorted(md.topics.items()) if not name.startswith("__")}


def ensure_topics(
    bootstrap: str, timeout: float = 30.0, replication_factor: int = 1, auth: KafkaAuth | None = None
) -> None:
    """Create the stream's topics that are missing (TOPIC_PARTITIONS partitions,
    `replication_factor` replicas: one on the local broker, three on a cluster; RETENTION),
    then wait until every partition of every one has a leader, so a producer or
    consumer started next finds them. Topics that exist are left as they are."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic

    admin = _kafka_admin(bootstrap, auth)
    deadline = time.monotonic() + timeout
    while True:
        md = admin.list_topics(timeout=max(1.0, deadline - time.monotonic()))
        missing = [t for t in STREAM_TOPICS if t not in md.topics]
        ready = not missing and all(
            md.topics[t].error is None and all(p.leader >= 0 for p in md.topics[t].partitions.values())
            for t in STREAM_TOPICS
        )
        if ready:
            return
        if time.monotonic() > deadline:
            raise ServerError(f"Kafka at {bootstrap}: topics not ready after {timeout:.0f} s: {missing}")
        new = [
            NewTopic(
                t,
                num_partitions=TOPIC_PARTITIONS,
                replication_factor=replication_factor,
                # The broker stamps arrival: the stream judges lateness and dedups by it.
                config={"retention.ms": str(RETENTION_MS), "message.timestamp.type": "LogAppendTime"},
            )
            for t in missing
        ]
        for name, future in (admin.create_topics(new, request_timeout=15) if new else {}).items():
            try:
                future.result()
            except KafkaException as ex:
                err: KafkaError = ex.args[0]
                # Already there (another creator won), or the broker is not registered with
                # the controller yet (a broker that just started): look again.
                if err.code() not in (KafkaError.TOPIC_ALREADY_EXISTS, KafkaError.INVALID_REPLICATION_FACTOR):
                    raise ServerError(
                        f"Kafka at {bootstrap}: cannot create topic {name}: {err.str()}"
                    ) from ex
        time.sleep(0.1)


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise ServerError("java is not on PATH: the Kafka broker needs Java 17")
    return java


class KafkaBroker(_Daemon):
    """One Kafka node in KRaft mode (broker and controller) on 127.0.0.1, its storage in
    `home`/data, formatted once; creates the stream's topics (spark_jobs.stream_layout)."""

    name = "kafka"

    def __init__(self, home: Path, port: int, controller_port: int, jars_dir: str) -> None:
        super().__init__(home)
        self.port, self.controller_port, self.jars_dir = port, controller_port, jars_dir

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    def _is_ours(self, cmdline: str) -> bool:
        return "kafka.Kafka" in cmdline and str(self.config_file) in cmdline

    def _healthy(self, timeout: float) -> bool:
        from confluent_kafka import KafkaException

        try:
            md = _kafka_admin(self.bootstrap, KafkaAuth()).list_topics(timeout=timeout)
        except KafkaException:
            return False
        return bool(md.brokers) and md.cluster_id == self._cluster_id()

    def start(self) -> None:
        """Start the broker unless it runs and answers already, then create the stream's
        topics that are missing."""
        super().start()
        ensure_topics(self.bootstrap, auth=KafkaAuth())

    def _classpath(self) -> str:
        # The resolved folder, not the kafka-current link: a bootstrap that moves the link
        # while the broker runs must not change the jars under it.
        jars = Path(self.jars_dir).resolve()
        if not any(jars.glob("kafka_2.13-*.jar")):
            raise ServerError(
                f"Kafka broker jars missing in {self.jars_dir}: run scripts/bootstrap.sh (make setup)"
            )
        return f"{jars}/*"

    def _jvm(self, main: str, *args: str, opts: tuple[str, ...] = (C1_ONLY,)) -> list[str]:
        log4j = self.home / "log4j2.properties"
        return [_java(), *opts, f"-Dlog4j2.configurationFile={log4j}", "-cp", self._classpath(), main, *args]

    def _write_config(self) -> None:
        hours = int(RETENTION.total_seconds() // 3600)
        lines = [
            "# Written by AdLake (ad_assets/realtime/servers.py) at every start: one KRaft node.",
            "process.roles=broker,controller",
            "node.id=1",
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
            "controller.listener.names=CONTROLLER",
            f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}",
            f"log.dirs={self.data_dir}",
            # Topics are created by ensure_topics, with their partitions and retention: a
            # typo in a producer's topic name must fail, not create a topic.
            "auto.create.topics.enable=false",
            f"num.partitions={TOPIC_PARTITIONS}",
            f"log.retention.hours={hours}",
            # One node: every internal topic has one replica; fewer offset partitions than
            # the default 50, which a first consumer group would wait for on two cores.
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=8",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "transaction.state.log.num.partitions=8",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            # A consumer joining a group starts at once (tests, the demo), not after 3 s.
            "group.initial.rebalance.delay.ms=0",
        ]
        self.config_file.write_text("\n".join(lines) + "\n")
        (self.home / "log4j2.properties").write_text(KAFKA_LOG4J)

    def _cluster_id(self) -> str:
        """Kafka's cluster id (a UUID in base64url, 22 characters), made once, kept in home."""
        # Formatted storage says which cluster it belongs to: that id is the truth.
        meta = self.data_dir / "meta.properties"
        if meta.exists():
            for line in meta.read_text().splitlines():
                if line.startswith("cluster.id="):
                    return line.removeprefix("cluster.id=").strip()
        path = self.home / "cluster.id"
        if path.exists():
            return path.read_text().strip()
        while True:
            cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
            if not cid.startswith("-"):  # as Kafka's own: an id must not read as an option
                break
        path.write_text(cid + "\n")
        return cid

    def _format_once(self) -> None:
        if (self.data_dir / "meta.properties").exists():
            return
        cmd = self._jvm(
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "-t",
            self._cluster_id(),
            "-c",
            str(self.config_file),
        )
        out = subprocess.run(cmd, cwd=self.home, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise ServerError(
                f"kafka: formatting {self.data_dir} failed:\n{(out.stdout + out.stderr)[-LOG_TAIL_CHARS:]}"
            )

    def _launch(self) -> None:
        self._write_config()
        self._format_once()
        self._check_ports(self.port, self.controller_port)
        self._spawn(self._jvm("kafka.Kafka", str(self.config_file), opts=KAFKA_JVM_OPTS))
        self._wait_ready()

    def _wait_ready(self) -> None:
        from confluent_kafka import KafkaException

        admin = _kafka_admin(self.bootstrap, KafkaAuth())
        cluster_id = self._cluster_id()
        deadline = time.monotonic() + KAFKA_START_TIMEOUT
        while True:
            code = self._exited()
            if code is not None:
                self.pid_file.unlink(missing_ok=True)
                self._fail(f"exited with code {code} while starting")
            try:
                md = admin.list_topics(timeout=1)
                # Ours, not another broker that took the port meanwhile: same cluster id.
                if md.brokers and md.cluster_id == cluster_id:
                    return
            except KafkaException:
                pass
            if time.monotonic() > deadline:
                self._fail(f"did not answer on {self.bootstrap} within {KAFKA_START_TIMEOUT:.0f} s")
            time.sleep(0.2)


# ------------------------------------------------------------------ Redis
class RedisServer(_Daemon):
    """Debian's redis-server on 127.0.0.1 with AdLake's config: every write is appended and
    fsynced before it is acknowledged, so counters survive a restart (or a crash) exactly;
    nothing is ever evicted."""

    name = "redis"

    def __init__(self, home: Path, port: int) -> None:
        super().__init__(home)
        self.port = port

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def config_file(self) -> Path:
        return self.home / "redis.conf"

    def client(self, timeout: float = 2.0):
        """A client without redis-py's retries: a probe or a SHUTDOWN answers at once
        (the default retries with backoff took 2.5 s to see that SHUTDOWN had worked)."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )

    def _is_ours(self, cmdline: str) -> bool:
        # redis-server rewrites its command line to "redis-server 127.0.0.1:<port>".
        return "redis-server" in cmdline and (
            cmdline.endswith(f":{self.port}") or str(self.config_file) in cmdline
        )

    def _healthy(self, timeout: float) -> bool:
        import redis

        try:
            return int(self.client(timeout).info("server")["process_id"]) == self.pid()
        except redis.RedisError:
            return False

    def _launch(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise ServerError("redis-server is not on PATH: run scripts/bootstrap.sh (it installs Debian's)")
        # Quoted: the home may hold spaces. save "": the append-only file is the only
        # persistence (no RDB snapshots forked on two busy cores).
        conf = f"""\
# Written by AdLake (ad_assets/realtime/servers.py) at every start.
bind 127.0.0.1
port {self.port}
protected-mode yes
daemonize no
dir "{self.home}"
logfile ""
appendonly yes
appendfsync always
save ""
maxmemory-policy noeviction
"""
        self.config_file.write_text(conf)
        self._check_ports(self.port)
        self._spawn([exe, str(self.config_file)])
        self._wait_ready()

    def _wait_ready(self) -> None:
        import redis

        client = self.client(1.0)
        deadline = time.monotonic() + REDIS_START_TIMEOUT
        while True:
            code = self._exited()
            if code is not None:
                self.pid_file.unlink(missing_ok=True)
                self._fail(f"exited with code {code} while starting")
            try:
                # BusyLoadingError (a ConnectionError) while it reads the append-only file;
                # the pid tells it from another server that took the port meanwhile.
                if client.ping() and int(client.info("server")["process_id"]) == self._child.pid:
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                self._fail(f"did not answer PING on 127.0.0.1:{self.port} within {REDIS_START_TIMEOUT:.0f} s")
            time.sleep(0.05)

    def _ask_to_stop(self, pid: int) -> None:
        import redis

        # SHUTDOWN fsyncs the append-only file before exiting; SIGTERM does the same if the
        # server does not take commands.
        try:
            self.client().shutdown()
        except redis.RedisError:
            os.kill(pid, signal.SIGTERM)


def redis_stats(url: str, timeout: float = 2.0) -> dict[str, int | str] | None:
    """Keys in the URL's database and the server's used memory; None if it does not answer."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        return {"keys": int(client.dbsize()), "used_memory": str(client.info("memory")["used_memory_human"])}
    except redis.RedisError:
        return None


# ------------------------------------------------------------------ from the settings
def kafka_local_port(bootstrap: str) -> int | None:
    """The port of a bootstrap address this machine serves (one host, 127.0.0.1 or
    localhost), else None: an external cluster."""
    host, _, port = bootstrap.strip().rpartition(":")
    if "," in bootstrap or host not in LOCAL_HOSTS or not port.isdigit():
        return None
    return int(port)


def redis_local_port(url: str) -> int | None:
    """The port of a redis:// URL on 127.0.0.1 or localhost, else None (rediss:// is remote)."""
    parts = urlsplit(url)
    if parts.scheme != "redis" or parts.hostname not in LOCAL_HOSTS:
        return None
    return parts.port or 6379


def local_servers(s: Settings) -> tuple[KafkaBroker | None, RedisServer | None]:
    """The servers the settings' addresses say this machine runs, under
    $ADLAKE_HOME/stream/{kafka,redis}; None for a server configured elsewhere. The
    broker's controller listens on the next port (Kafka's own 9092/9093 convention)."""
    kafka_port, redis_port = kafka_local_port(s.kafka_bootstrap), redis_local_port(s.redis_url)
    broker = (
        KafkaBroker(s.stream_home / "kafka", kafka_port, kafka_port + 1, s.kafka_jars_dir)
        if kafka_port is not None
        else None
    )
    redis_server = RedisServer(s.stream_home / "redis", redis_port) if redis_port is not None else None
    return broker, redis_server
