package dev.onionrelay.boot;

import dev.onionrelay.credential.file.CredentialFiles;
import dev.onionrelay.layer.ProviderChoice;
import dev.onionrelay.layer.TlsProfile;
import dev.onionrelay.registry.RelayPolicy;
import dev.onionrelay.registry.RelayRequest;
import dev.onionrelay.registry.RelayRequests;
import dev.onionrelay.relay.AdmissionLimits;
import dev.onionrelay.relay.DirectMemoryLimit;
import dev.onionrelay.relay.Transport;
import dev.onionrelay.store.StoreMigration;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;

/**
 * Everything under {@code onion.*}, with its defaults in one place. The operator-facing documentation of these keys is
 * {@code application.yml} at the repository root and the README's configuration table.
 *
 * @param stateDir where API-created relays, credentials and the generated admin token live
 * @param credentials file credentials by name ({@code onion.credentials.<name>.certificate-file})
 * @param relays declarative relays, same fields as {@code POST /relays}, opened at every start and never persisted
 * @param store where API-created relays and credentials live: this instance's state directory or a shared database
 * @param fleet this instance's place in a fleet sharing one store
 * @param shutdown what a SIGTERM does to open tunnels
 */
@ConfigurationProperties("onion")
public record OnionProperties(
        @DefaultValue("./data") Path stateDir,
        @DefaultValue Policy policy,
        @DefaultValue Limits limits,
        @DefaultValue Tls tls,
        @DefaultValue Engine engine,
        @DefaultValue Map<String, CredentialFiles> credentials,
        @DefaultValue List<RelayRequest> relays,
        @DefaultValue Store store,
        @DefaultValue Fleet fleet,
        @DefaultValue Shutdown shutdown) {

    /**
     * What relay and layer requests (API, declared relays, the demo) get for the fields they leave out: the configured
     * timeouts and TLS profile; a relay that names no maxTunnels gets the default, capped by the per-relay maximum so
     * that omitting the field never hits the limit.
     */
    public RelayRequests.Defaults relayDefaults() {
        return new RelayRequests.Defaults(
                Math.min(limits.defaultMaxTunnels(), limits.maxTunnelsPerRelay()),
                limits.handshakeTimeout(),
                limits.connectTimeout(),
                limits.idleTimeout(),
                tls.profile());
    }

    /** What relays may do. Entries: host names ({@code *.example.com}), IPs, CIDRs, {@code loopback}, {@code *}. */
    public record Policy(
            @DefaultValue("loopback") List<String> listenHosts,
            @DefaultValue({"0", "1024-65535"}) List<String> listenPorts,
            @DefaultValue("loopback") List<String> targetHosts,
            @DefaultValue("1-65535") List<String> targetPorts,

            @Nullable List<String> deniedTargets,
            @DefaultValue("false") boolean allowInsecureVerify) {

        /** Unset, the deny list is the policy's own default (one home: {@link RelayPolicy#DEFAULT_DENIED_TARGETS}). */
        public Policy {
            if (deniedTargets == null) {
                deniedTargets = RelayPolicy.DEFAULT_DENIED_TARGETS;
            }
        }
    }

    /**
     * Service-wide limits; hitting one answers 429. A relay that cannot listen (port taken at start) tries again after
     * {@code listenRetryInitial}, doubling the wait up to {@code listenRetryMax}. One of several fixed targets that
     * refused or timed out is tried only after the others for {@code targetDownFor}. Connections that have not yet
     * completed their outermost ingress handshake are held apart from tunnels ({@code maxPendingPerRelay},
     * {@code maxPendingPerClient}, {@code firstByteTimeout}); {@code maxDirectMemory} refuses new connections at accept
     * once tunnels' direct buffers reach it (unset: 90% of the JVM's direct memory limit).
     */
    public record Limits(
            @DefaultValue("64") int maxRelays,
            @DefaultValue("8") int maxDepth,
            @DefaultValue("10000") int maxTunnelsPerRelay,
            @DefaultValue("1024") int defaultMaxTunnels,
            @DefaultValue("100000") int maxTunnels,
            @DefaultValue("30s") Duration setupTimeout,
            @DefaultValue("10s") Duration handshakeTimeout,
            @DefaultValue("5s") Duration connectTimeout,
            @DefaultValue("5m") Duration idleTimeout,
            @DefaultValue("64KB") DataSize maxRequestSize,
            @DefaultValue("1s") Duration listenRetryInitial,
            @DefaultValue("30s") Duration listenRetryMax,
            @DefaultValue("10s") Duration targetDownFor,
            @DefaultValue("2048") int maxPendingPerRelay,
            @DefaultValue("1024") int maxPendingPerClient,
            @DefaultValue("5s") Duration firstByteTimeout,
            @Nullable DataSize maxDirectMemory) {

        /** The admission settings of the engine (see {@code relay/Admission}). */
        public AdmissionLimits admission() {
            long directMemory = maxDirectMemory != null ? maxDirectMemory.toBytes() : DirectMemoryLimit.defaultLimit();
            return new AdmissionLimits(maxPendingPerRelay, maxPendingPerClient, firstByteTimeout, directMemory);
        }
    }

    /**
     * TLS implementation: {@code auto} (default: OpenSSL for the layers whose close_notify can only pop them, the JDK
     * engine, which keeps TLS 1.3 half-close, for those below the minimum depth), {@code jdk} or {@code openssl}
     * (BoringSSL) for every layer; and the
     * profile of layers that name none: {@code default} (TLS 1.3 and 1.2, AEAD suites) or {@code strict} (TLS 1.3
     * with AES-256-GCM; key exchange restricted to P-384 on the JDK provider).
     */
    public record Tls(
            @DefaultValue("auto") ProviderChoice provider,
            @DefaultValue("default") TlsProfile profile) {}

    /** Netty: {@code nio} (default) or {@code epoll} transport, and event loop threads (0: two per core). */
    public record Engine(
            @DefaultValue("nio") Transport.Kind transport,
            @DefaultValue("0") int workerThreads) {}

    /** Where relays and credentials are kept: {@code file} (the state directory, default) or {@code postgres}. */
    public enum StoreType {
        FILE,
        POSTGRES
    }

    /**
     * The store. With {@code postgres}, {@code spring.datasource.url}, {@code .username} and {@code .password} name
     * the database, {@code encryptionKeyFile} holds the key-encryption key of the private keys (32 random bytes, raw
     * or base64), {@code previousEncryptionKeyFiles} the keys it replaces during a rotation (still opened, see
     * {@code --onion.store.reseal}), and every instance applies a change within {@code notify} of it, and rereads everything every
     * {@code resync} so that a missed notification heals. {@code migrate} says whether an instance applies the
     * schema's migrations at start ({@code auto}) or only checks them ({@code validate}: the rollout migrates first,
     * with {@code --onion.store.migrate-only}, which migrates and exits). {@code timeout} bounds a call's waits on the
     * database together (the pool's wait for a connection, its check, the statements: see StoreTimeout): a database
     * that stops answering makes the call that waits on it fail as unavailable (503) within it, rather than hold it
     * indefinitely.
     */
    public record Store(
            @DefaultValue("file") StoreType type,
            @Nullable Path encryptionKeyFile,
            @DefaultValue List<Path> previousEncryptionKeyFiles,
            @DefaultValue("30s") Duration resync,
            @DefaultValue("5s") Duration retryAfter,
            @DefaultValue("auto") StoreMigration migrate,
            @DefaultValue("5s") Duration timeout) {}

    /**
     * One instance of a fleet.
     *
     * @param instanceName how the fleet names this instance (default: the host name)
     * @param advertiseUrl how other instances reach this one's API (default {@code http://<host>:<server.port>})
     * @param bindAddress where this instance's relays listen instead of their own host, for this instance only
     * @param lease how long an instance that stopped heartbeating stays a member
     * @param callTimeout how long this instance waits for another member's answer before reporting it unreachable
     */
    public record Fleet(
            @Nullable String instanceName,
            @Nullable String advertiseUrl,
            @Nullable String bindAddress,
            @DefaultValue("10s") Duration lease,
            @DefaultValue("2s") Duration callTimeout) {}

    /**
     * The graceful shutdown (SIGTERM, or the context closing): listeners close at once and readiness turns
     * OUT_OF_SERVICE; open tunnels run for up to {@code drainTimeout}, and those still open then are closed.
     * Kubernetes' {@code terminationGracePeriodSeconds} must exceed it (the Helm chart adds a margin).
     */
    public record Shutdown(@DefaultValue("30s") Duration drainTimeout) {}
}
