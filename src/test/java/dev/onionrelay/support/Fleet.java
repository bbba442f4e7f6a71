package dev.onionrelay.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Service processes sharing one PostgreSQL database as a fleet: each named ({@code a}, {@code b}, …), binding its
 * relays on its own loopback address ({@code 127.0.0.<n>}), reachable by the others on its API port, all with the
 * same key-encryption key and the same two configured API tokens ({@link #ADMIN_TOKEN}, {@link #READ_TOKEN}).
 * {@link #close()} stops them all; the cluster belongs to the caller (one per test class).
 */
public final class Fleet implements AutoCloseable {

    public static final String ADMIN_TOKEN = "fleet-test-admin-token-0123456789abcdef";
    public static final String READ_TOKEN = "fleet-test-read-token-0123456789abcdef";

    private final Path dir;
    private String jdbcUrl;
    private final Path keyFile;
    private final List<String> commonArgs;
    private final Map<String, ServiceProcess> instances = new LinkedHashMap<>();

    /**
     * A fleet on a new database of {@code cluster}.
     *
     * @param args more arguments for every instance, e.g. {@code --onion.fleet.lease=3s}
     */
    public Fleet(PgCluster cluster, Path dir, String database, String... args) {
        this.dir = dir;
        this.jdbcUrl = cluster.createDatabase(database);
        this.keyFile = dir.resolve("store.key");
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        try {
            Files.writeString(keyFile, Base64.getEncoder().encodeToString(key));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        this.commonArgs = List.of(args);
    }

    /**
     * Instances started from now on reach the database through {@code port} on 127.0.0.1 (a proxy in front of the
     * cluster, e.g. {@link StallingTcpProxy}) instead of the cluster's own port.
     */
    public Fleet withDatabaseThrough(int port) {
        jdbcUrl = jdbcUrl.replaceFirst("//127\\.0\\.0\\.1:\\d+/", "//127.0.0.1:" + port + "/");
        return this;
    }

    /** The fleet's database. */
    public String jdbcUrl() {
        return jdbcUrl;
    }

    /** The fleet's key-encryption key file (what a backup keeps beside the database dump). */
    public Path keyFile() {
        return keyFile;
    }

    /** Starts instances {@code names} at once, the n-th on 127.0.0.n; returns when every one is live. */
    public void start(String... names) {
        List<CompletableFuture<Void>> starting = new ArrayList<>();
        for (String name : names) {
            ServiceProcess instance = instances.computeIfAbsent(name, this::create);
            starting.add(CompletableFuture.runAsync(() -> {
                try {
                    instance.start();
                } catch (RuntimeException | AssertionError e) {
                    throw new AssertionError("instance " + name + " did not start: " + e + "\n" + tail(log(name)), e);
                }
            }));
        }
        starting.forEach(CompletableFuture::join);
    }

    /** The instance of that name (created by {@link #start}). */
    public ServiceProcess instance(String name) {
        ServiceProcess instance = instances.get(name);
        if (instance == null) {
            throw new IllegalArgumentException("no instance " + name);
        }
        return instance;
    }

    /** An admin client of that instance. */
    public ApiClient admin(String name) {
        return new ApiClient(instance(name).apiPort(), ADMIN_TOKEN);
    }

    /** A read-scope client of that instance. */
    public ApiClient reader(String name) {
        return new ApiClient(instance(name).apiPort(), READ_TOKEN);
    }

    /** Where the n-th instance's relays listen. */
    public String bindAddress(String name) {
        return "127.0.0." + (List.copyOf(instances.keySet()).indexOf(name) + 1);
    }

    private ServiceProcess create(String name) {
        int index = instances.size() + 1;
        Path state = dir.resolve(name);
        try {
            Files.createDirectories(state);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ServiceProcess instance = new ServiceProcess(state, dir.resolve(name + ".log"));
        List<String> args = new ArrayList<>(List.of(
                "--onion.store.type=postgres",
                "--spring.datasource.url=" + jdbcUrl,
                "--spring.datasource.username=" + PgCluster.USER,
                "--spring.datasource.password=" + PgCluster.PASSWORD,
                "--onion.store.encryption-key-file=" + keyFile,
                "--onion.fleet.instance-name=" + name,
                "--onion.fleet.bind-address=127.0.0." + index,
                "--onion.fleet.advertise-url=http://127.0.0.1:" + instance.apiPort(),
                "--onion.api.tokens[0].name=admin",
                "--onion.api.tokens[0].scope=admin",
                "--onion.api.tokens[0].secret=" + ADMIN_TOKEN,
                "--onion.api.tokens[1].name=reader",
                "--onion.api.tokens[1].scope=read",
                "--onion.api.tokens[1].secret=" + READ_TOKEN));
        args.addAll(commonArgs);
        instance.withArgs(args.toArray(String[]::new));
        return instance;
    }

    /** The log of an instance, for a failing assertion's message. */
    public Path log(String name) {
        return dir.resolve(name + ".log");
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    @Override
    public void close() {
        instances.values().parallelStream().forEach(ServiceProcess::close);
    }

    /** How long a change takes to reach every instance, at most, in these tests. */
    public static final Duration PROPAGATION = Duration.ofSeconds(10);
}
