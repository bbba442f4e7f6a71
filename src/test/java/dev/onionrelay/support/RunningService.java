package dev.onionrelay.support;

import dev.onionrelay.OnionRelayApplication;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The whole service started in-process as a user would start the jar: free API and management ports, its own
 * state directory, the generated admin token. Can be stopped and started again on the same state directory.
 */
public final class RunningService implements AutoCloseable {

    private final Path stateDir;
    private final String[] extraArgs;
    private ConfigurableApplicationContext context;

    public RunningService(Path stateDir, String... extraArgs) {
        this.stateDir = stateDir;
        this.extraArgs = extraArgs;
        start();
    }

    public static RunningService inTemporaryDirectory(String... extraArgs) throws IOException {
        return new RunningService(Files.createTempDirectory("onion-state"), extraArgs);
    }

    public void start() {
        List<String> args = new ArrayList<>(List.of(
                "--server.port=0",
                "--management.server.port=0",
                "--onion.state-dir=" + stateDir,
                "--spring.main.banner-mode=off"));
        args.addAll(List.of(extraArgs));
        ServiceProcess.noDrainUnlessGiven(args);
        context = new SpringApplicationBuilder(OnionRelayApplication.class).run(args.toArray(String[]::new));
    }

    public void stop() {
        context.close();
    }

    public ConfigurableApplicationContext context() {
        return context;
    }

    public Path stateDir() {
        return stateDir;
    }

    public int apiPort() {
        return ((WebServerApplicationContext) context).getWebServer().getPort();
    }

    /** The actuator port (management.server.port, 0 in tests: the port actually bound). */
    public int managementPort() {
        Integer port = context.getEnvironment().getProperty("local.management.port", Integer.class);
        if (port == null) {
            throw new IllegalStateException("no separate management port is listening");
        }
        return port;
    }

    /** A client for the actuator endpoints on the management port (they need no token). */
    public ApiClient management() {
        return new ApiClient(managementPort(), null);
    }

    public String adminToken() {
        try {
            return Files.readString(stateDir.resolve("admin.token")).trim();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** A client holding the generated admin token. */
    public ApiClient api() {
        return new ApiClient(apiPort(), adminToken());
    }

    @Override
    public void close() {
        if (context.isActive()) {
            context.close();
        }
    }
}
