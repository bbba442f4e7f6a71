package dev.onionrelay.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A throwaway PostgreSQL server of the test's own: {@code initdb} into a temporary directory, {@code pg_ctl start} on
 * a free loopback port, password authentication (SCRAM) as a real deployment has it. Run as root, the server runs as
 * the {@code postgres} user (PostgreSQL refuses root). {@link #stop()} and {@link #start()} take the server away and
 * bring it back on the same port and data, for outage scenarios; {@link #close()} removes everything.
 *
 * <p>Debian's {@code postgresql} package provides the binaries; in CI a missing server fails the test, elsewhere the
 * test is skipped with the way to install it.
 */
public final class PgCluster implements AutoCloseable {

    public static final String USER = "onion";
    public static final String PASSWORD = "onion-test-password";

    private final Path bin;
    private final Path dir;
    private final Path data;
    private final Path log;
    private final int port;
    private final boolean asPostgresUser;

    private PgCluster(Path bin, Path dir, int port, boolean asPostgresUser) {
        this.bin = bin;
        this.dir = dir;
        this.data = dir.resolve("data");
        this.log = dir.resolve("server.log");
        this.port = port;
        this.asPostgresUser = asPostgresUser;
    }

    /**
     * The data directory {@code initdb} made for the first cluster of this test JVM; every cluster starts from a copy of
     * it. A copy takes a tenth of a second, {@code initdb} one or two on a busy machine, and some twenty test classes
     * create a cluster. The copy is the same cluster a fresh {@code initdb} with the same options makes.
     */
    private static Path template;

    /** Creates and starts a new cluster with an empty database {@code onion} owned by {@link #USER}. */
    public static PgCluster create() {
        Path bin = requireBinaries();
        boolean root = isRoot();
        try {
            Path initialized = template(bin, root);
            Path dir = Files.createTempDirectory("onion-pg-");
            PgCluster cluster = new PgCluster(bin, dir, LocalServers.freePort(), root);
            if (root) {
                cluster.run(List.of("chown", "-R", "postgres:postgres", dir.toString()), false);
            }
            // As the server's user, keeping the modes: PostgreSQL accepts only a data directory it owns, 0700.
            cluster.run(List.of("cp", "-a", initialized.toString(), cluster.data.toString()), true);
            cluster.start();
            cluster.createDatabase("onion");
            return cluster;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code initdb} once per test JVM (removed at its exit); see {@link #template}. */
    private static synchronized Path template(Path bin, boolean root) throws IOException {
        if (template == null) {
            Path dir = Files.createTempDirectory("onion-pg-template-");
            PgCluster maker = new PgCluster(bin, dir, 0, root);
            Path passwordFile = dir.resolve("pwfile");
            Files.writeString(passwordFile, PASSWORD + "\n");
            if (root) {
                maker.run(List.of("chown", "-R", "postgres:postgres", dir.toString()), false);
            }
            maker.run(
                    List.of(
                            bin.resolve("initdb").toString(),
                            "--pgdata=" + maker.data,
                            "--username=" + USER,
                            "--pwfile=" + passwordFile,
                            "--auth-local=scram-sha-256",
                            "--auth-host=scram-sha-256",
                            "--encoding=UTF8",
                            "--no-sync"),
                    true);
            Files.delete(passwordFile);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(dir), "pg-template-cleanup"));
            template = maker.data;
        }
        return template;
    }

    /** Starts (or starts again) the server on its port and data; waits until it accepts connections. */
    public void start() {
        run(
                List.of(
                        bin.resolve("pg_ctl").toString(),
                        "--pgdata=" + data,
                        "--log=" + log,
                        "--wait",
                        "--timeout=60",
                        "-o",
                        // fsync off: a throwaway cluster on a machine that does not crash; commits still wait
                        // for the WAL write, so an immediate stop (a crash of the server) loses nothing committed.
                        "-p " + port + " -k " + dir + " -c listen_addresses=127.0.0.1 -c fsync=off"
                                + " -c max_connections=200",
                        "start"),
                true);
        awaitConnections();
    }

    /** pg_ctl's wait ends when the server says it is ready; a first login proves it (after crash recovery too). */
    private void awaitConnections() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try (Connection connection = DriverManager.getConnection(jdbcUrl("postgres"), USER, PASSWORD)) {
                return;
            } catch (SQLException e) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the server does not accept connections: " + e.getMessage(), e);
                }
                try {
                    TimeUnit.MILLISECONDS.sleep(100);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(interrupted);
                }
            }
        }
    }

    /** Stops the server at once ({@code immediate}: connections are cut as in a crash or a network loss). */
    public void stop() {
        run(List.of(bin.resolve("pg_ctl").toString(), "--pgdata=" + data, "--mode=immediate", "--wait", "stop"), true);
    }

    /** A new database owned by {@link #USER}; its JDBC URL. Tests that share a cluster each take their own. */
    public String createDatabase(String name) {
        try (Connection connection = DriverManager.getConnection(jdbcUrl("postgres"), USER, PASSWORD);
                Statement statement = connection.createStatement()) {
            statement.execute("CREATE DATABASE \"" + name.replace("\"", "") + "\"");
        } catch (SQLException e) {
            throw new IllegalStateException("could not create database " + name + ": " + e.getMessage(), e);
        }
        return jdbcUrl(name);
    }

    /**
     * {@code pg_dump --format=custom} of {@code database} into {@code file}, over TCP with the password, as an
     * operator takes a backup of a running fleet's store (a consistent snapshot while the fleet writes).
     */
    public void dump(String database, Path file) {
        client(List.of(
                bin.resolve("pg_dump").toString(),
                "--host=127.0.0.1",
                "--port=" + port,
                "--username=" + USER,
                "--format=custom",
                "--file=" + file,
                database));
    }

    /** {@code pg_restore} of a {@link #dump} into {@code database} (an empty one, e.g. from {@link #createDatabase}). */
    public void restore(Path file, String database) {
        client(List.of(
                bin.resolve("pg_restore").toString(),
                "--host=127.0.0.1",
                "--port=" + port,
                "--username=" + USER,
                "--no-owner",
                "--exit-on-error",
                "--dbname=" + database,
                file.toString()));
    }

    private void client(List<String> command) {
        try {
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
            builder.environment().put("PGPASSWORD", PASSWORD);
            Process process = builder.start();
            String output = new String(process.getInputStream().readAllBytes());
            if (!process.waitFor(120, TimeUnit.SECONDS) || process.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", command) + " failed:\n" + output);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    public String jdbcUrl(String database) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database;
    }

    /** The URL of the {@code onion} database made at creation. */
    public String jdbcUrl() {
        return jdbcUrl("onion");
    }

    public int port() {
        return port;
    }

    /** The server's own log, for a failing test's message. */
    public Path log() {
        return log;
    }

    @Override
    public void close() {
        try {
            run(
                    List.of(bin.resolve("pg_ctl").toString(), "--pgdata=" + data, "--mode=immediate", "--wait", "stop"),
                    true);
        } catch (RuntimeException alreadyStopped) {
            // stopped by the test; nothing to do
        }
        deleteTree(dir);
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder())
                    .forEach(path -> path.toFile().delete());
        } catch (IOException e) {
            // a temporary directory left behind is not worth failing a test for
        }
    }

    private void run(List<String> command, boolean asServerUser) {
        List<String> full = new ArrayList<>();
        if (asServerUser && asPostgresUser) {
            full.addAll(List.of("runuser", "-u", "postgres", "--"));
        }
        full.addAll(command);
        try {
            Path output = Files.createTempFile("onion-pg-cmd-", ".log");
            try {
                Process process = new ProcessBuilder(full)
                        .redirectErrorStream(true)
                        .redirectOutput(output.toFile())
                        .start();
                if (!process.waitFor(120, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    throw new IllegalStateException("timed out: " + String.join(" ", full));
                }
                if (process.exitValue() != 0) {
                    String serverLog = Files.exists(log) ? Files.readString(log) : "";
                    throw new IllegalStateException(String.join(" ", full) + " exited " + process.exitValue() + ":\n"
                            + Files.readString(output) + serverLog);
                }
            } finally {
                Files.deleteIfExists(output);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The newest server binaries Debian installed ({@code /usr/lib/postgresql/<major>/bin}). */
    private static Path requireBinaries() {
        Optional<Path> found;
        try (Stream<Path> versions = Files.list(Path.of("/usr/lib/postgresql"))) {
            found = versions.map(version -> version.resolve("bin"))
                    .filter(candidate -> Files.isExecutable(candidate.resolve("initdb"))
                            && Files.isExecutable(candidate.resolve("pg_ctl")))
                    .max(Comparator.comparing(candidate -> majorOf(candidate.getParent())));
        } catch (IOException e) {
            found = Optional.empty();
        }
        if (found.isPresent()) {
            return found.get();
        }
        // Fails (CI) or skips with the package to install.
        return LocalServers.require("PostgreSQL server", "postgresql", Path.of("/usr/lib/postgresql/15/bin/initdb"))
                .getParent();
    }

    private static int majorOf(Path versionDir) {
        try {
            return Integer.parseInt(versionDir.getFileName().toString());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static boolean isRoot() {
        try {
            Process id =
                    new ProcessBuilder("id", "-u").redirectErrorStream(true).start();
            String uid = new String(id.getInputStream().readAllBytes()).trim();
            id.waitFor(10, TimeUnit.SECONDS);
            return "0".equals(uid);
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
