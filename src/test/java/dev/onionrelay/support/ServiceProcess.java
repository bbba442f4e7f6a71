package dev.onionrelay.support;

import static org.awaitility.Awaitility.await;

import dev.onionrelay.OnionRelayApplication;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The service in a JVM of its own ({@code java -cp <the built classes and dependencies>}), started from the
 * repository root as a user starts it, on fixed API and management ports and its own state directory. What an
 * in-process {@link RunningService} cannot do: be killed with SIGKILL ({@code kill -9}) at any instruction, and be
 * started again on the same state.
 */
public final class ServiceProcess implements AutoCloseable {

    private final Path stateDir;
    private final Path log;
    private final List<String> extraArgs = new ArrayList<>();
    private final List<String> jvmArgs = new ArrayList<>();
    private final int apiPort;
    private final int managementPort;
    private Process process;
    private int fileLimit;
    private Path java = Path.of(System.getProperty("java.home"), "bin", "java");

    public ServiceProcess(Path stateDir, Path log, String... extraArgs) {
        this.stateDir = stateDir;
        this.log = log;
        this.extraArgs.addAll(List.of(extraArgs));
        this.apiPort = LocalServers.freePort();
        this.managementPort = LocalServers.freePort();
    }

    /** Starts the JVM and waits until the service answers its liveness probe. */
    public void start() {
        List<String> command = new ArrayList<>();
        if (fileLimit > 0) {
            // The JVM cannot lower its own descriptor limit; prlimit starts it with one.
            command.addAll(List.of("prlimit", "--nofile=" + fileLimit + ":" + fileLimit));
        }
        command.addAll(List.of(
                java.toString(),
                // As the image's entry point: Java 22+ would warn about Netty's native library (17 accepts it too).
                "--enable-native-access=ALL-UNNAMED",
                // As the image's entry point: the JDK engine's access_denied alert (layer/allow/JdkFatalAlerts).
                "--add-opens=java.base/sun.security.ssl=ALL-UNNAMED",
                // Start-up speed only; the service behaves the same.
                "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC"));
        command.addAll(jvmArgs);
        command.addAll(List.of(
                "-cp",
                System.getProperty("java.class.path"),
                OnionRelayApplication.class.getName(),
                "--server.port=" + apiPort,
                "--management.server.port=" + managementPort,
                "--onion.state-dir=" + stateDir,
                "--spring.main.banner-mode=off"));
        command.addAll(extraArgs);
        noDrainUnlessGiven(command);
        try {
            process = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ApiClient management = management();
        // generous: several JVMs starting at once on a shared CI machine. Polled every 50 ms (a refused connection
        // costs next to nothing), so that a start is not ~100 ms longer than the service takes, for each of the
        // suite's service starts.
        await().atMost(Duration.ofSeconds(180))
                .pollInterval(Duration.ofMillis(50))
                .ignoreExceptions()
                // Outside the ignored exceptions: a service that exits is reported at once, with its exit code.
                .failFast("the service exited; log: " + log, () -> !process.isAlive())
                .until(() -> management.get("/actuator/health/liveness").status() == 200);
    }

    /**
     * Adds {@code --onion.shutdown.drain-timeout=0s} unless the arguments set it: tests stop services with tunnels
     * still open, and without it each such stop would wait the 30 s default drain. With 0 a stop closes the tunnels
     * at once, as before the drain existed; a test of the drain sets its own.
     */
    static void noDrainUnlessGiven(List<String> args) {
        if (args.stream().noneMatch(arg -> arg.startsWith("--onion.shutdown.drain-timeout="))) {
            args.add("--onion.shutdown.drain-timeout=0s");
        }
    }

    /** SIGKILL: no shutdown hook, no flush, no close; whatever the service was doing stops mid-way. */
    public void kill() {
        process.destroyForcibly();
        waitForExit();
    }

    /** SIGTERM: the ordinary shutdown. */
    public void stop() {
        process.destroy();
        waitForExit();
    }

    /** SIGTERM without waiting: the service drains (see {@link #awaitExit}). */
    public void terminate() {
        signal("TERM");
    }

    /** Waits for the JVM to exit; false when it is still running after {@code patience}. */
    public boolean awaitExit(Duration patience) {
        try {
            return process.waitFor(patience.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private void waitForExit() {
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** More {@code --key=value} arguments for the next {@link #start()} (e.g. ones that name {@link #apiPort()}). */
    public ServiceProcess withArgs(String... more) {
        extraArgs.addAll(List.of(more));
        return this;
    }

    /** More JVM options for the next {@link #start()} (e.g. a fixed, pre-touched heap for a memory measurement). */
    public ServiceProcess withJvmArgs(String... more) {
        jvmArgs.addAll(List.of(more));
        return this;
    }

    /** Runs the service on the {@code java} binary given instead of the test's own runtime (the image runs Java 25). */
    public ServiceProcess withJava(Path javaBinary) {
        this.java = javaBinary;
        return this;
    }

    /** Starts the JVM with at most {@code limit} open file descriptors (soft and hard), through {@code prlimit}. */
    public ServiceProcess withFileLimit(int limit) {
        this.fileLimit = limit;
        return this;
    }

    /** The port the API listens on (fixed for this process, across restarts). */
    public int apiPort() {
        return apiPort;
    }

    /** The port of the management server (actuator, Prometheus scrape). */
    public int managementPort() {
        return managementPort;
    }

    /** The process id of the running JVM. */
    public long pid() {
        return process.pid();
    }

    /** SIGSTOP: the JVM hangs, its sockets stay open and unanswered, until {@link #resume()}. */
    public void pause() {
        signal("STOP");
    }

    /** SIGCONT after {@link #pause()}. */
    public void resume() {
        signal("CONT");
    }

    private void signal(String name) {
        try {
            Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid()))
                    .redirectErrorStream(true)
                    .start();
            if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
                throw new IllegalStateException("kill -" + name + " " + process.pid() + " failed");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The exit code of a service that has exited. */
    public int exitCode() {
        return process.exitValue();
    }

    public Path stateDir() {
        return stateDir;
    }

    /** A client holding the generated admin token. */
    public ApiClient api() {
        try {
            return new ApiClient(
                    apiPort, Files.readString(stateDir.resolve("admin.token")).trim());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A client for the actuator endpoints (they need no token). */
    public ApiClient management() {
        return new ApiClient(managementPort, null);
    }

    @Override
    public void close() {
        if (process != null && process.isAlive()) {
            resume(); // a paused JVM would not act on SIGTERM
            stop();
        }
    }
}
