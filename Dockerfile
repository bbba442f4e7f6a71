# syntax=docker/dockerfile:1
#
# onion-relay container image: the service built with the Maven wrapper, run from Spring Boot's layered jar on a JRE.
#
#   docker build -t onion-relay .
#   docker run --rm -p 127.0.0.1:8080:8080 -p 127.0.0.1:9090:9090 -v onion-state:/app/data onion-relay
#
# Layout: the application in /opt/onion-relay; the working directory /app as the repository root is for the jar:
# /app/application.yml is the repository's, /app/config/application.yml may override it (the Helm chart mounts its
# ConfigMap there), and state (API-created relays and credentials, the generated admin.token) lives in the volume
# /app/data. Runs as the unprivileged user 10001; works with a read-only root filesystem when /tmp and /app/data are
# writable volumes.
#
# Probes: Kubernetes should use GET /actuator/health/liveness and GET /actuator/health/readiness on the management
# port (9090); the HEALTHCHECK below asks the liveness group for plain Docker.

FROM eclipse-temurin:17-jdk AS build
WORKDIR /build
# Wrapper and POM first: the dependency download is cached until they change.
COPY mvnw pom.xml ./
COPY .mvn .mvn
RUN --mount=type=cache,target=/root/.m2 ./mvnw -B -q dependency:go-offline
COPY src src
# Tests need python3 and openssl peers and run in CI (.ci/run); the image build only packages.
RUN --mount=type=cache,target=/root/.m2 ./mvnw -B -q -DskipTests package \
    && cp target/onion-relay-*.jar app.jar \
    && java -Djarmode=tools -jar app.jar extract --layers --launcher --destination extracted

# Built for Java 17 (the build stage above and ./mvnw verify on JDK 17), run on Java 25: its elliptic-curve code sets a
# TLS tunnel up for about half the CPU of Java 17's (docs/BENCHMARKS.md).
FROM eclipse-temurin:25-jre
LABEL org.opencontainers.image.title="onion-relay" \
      org.opencontainers.image.description="Nested-TLS relays (TLS over TLS over TLS) on Netty, managed over REST" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 onion \
    && useradd --system --uid 10001 --gid onion --home-dir /app --no-create-home --shell /usr/sbin/nologin onion \
    && mkdir -p /app/data /app/config \
    && chown -R 10001:10001 /app/data
# The application, exploded, in /opt/onion-relay: one layer per rate of change (libraries, the Boot launcher, snapshot
# libraries, then the application itself). Not in the working directory: the launcher's class path must not include
# /app, or /app/application.yml would hide the built-in defaults inside the application.
COPY --from=build /build/extracted/dependencies/ /opt/onion-relay/
COPY --from=build /build/extracted/spring-boot-loader/ /opt/onion-relay/
COPY --from=build /build/extracted/snapshot-dependencies/ /opt/onion-relay/
COPY --from=build /build/extracted/application/ /opt/onion-relay/
WORKDIR /app
COPY application.yml ./application.yml
# The jar's management port (actuator: health, metrics, /actuator/onion with client addresses) listens on loopback
# only; in a container the probes and Prometheus come from outside, so it is opened here deliberately. Override with
# -e MANAGEMENT_SERVER_ADDRESS=127.0.0.1 to keep it inside the container.
ENV MANAGEMENT_SERVER_ADDRESS=0.0.0.0
# Container-aware heap: half of the memory limit. The other half is for Netty's pooled direct buffers (capped at the
# heap size by default), metaspace and thread stacks. Override with -e JAVA_TOOL_OPTIONS=...
ENV JAVA_TOOL_OPTIONS="-XX:MaxRAMPercentage=50.0 -XX:+ExitOnOutOfMemoryError -Djava.io.tmpdir=/tmp"
# API, management (actuator), and the relay ports the Helm chart uses by convention (declared relays and the pool
# for relays created over the API). SERVER_PORT and MANAGEMENT_SERVER_PORT move the first two.
EXPOSE 8080 9090 7000-7099
VOLUME ["/app/data"]
USER 10001:10001
# No curl in the JRE image: bash's /dev/tcp asks the liveness group.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${MANAGEMENT_SERVER_PORT:-9090} && printf 'GET /actuator/health/liveness HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && grep -q '\"status\":\"UP\"' <&3"]
# Netty loads its native libraries (BoringSSL, epoll) through JNI: allowed explicitly, so that Java 25 does not print
# its restricted-method warning at every start (and keeps working when such calls are denied by default).
ENTRYPOINT ["java", "--enable-native-access=ALL-UNNAMED", "--add-opens=java.base/sun.security.ssl=ALL-UNNAMED", "-cp", "/opt/onion-relay", "org.springframework.boot.loader.launch.JarLauncher"]
