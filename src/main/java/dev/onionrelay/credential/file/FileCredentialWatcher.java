package dev.onionrelay.credential.file;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Polls the {@link FileCredentials} every {@code onion.credential-reload.interval} and, for each credential whose
 * files changed, tells {@code changed} its name; wired to the relay registry, which rebuilds the TLS contexts of the
 * relays that use it: tunnels accepted from then on present (or verify with) the new material, open tunnels keep
 * theirs. Started and stopped with the application.
 */
public final class FileCredentialWatcher {

    private static final Logger LOG = LoggerFactory.getLogger(FileCredentialWatcher.class);

    private final FileCredentials credentials;
    private final Consumer<String> changed;
    private final Duration interval;
    private @Nullable ScheduledExecutorService scheduler;

    public FileCredentialWatcher(FileCredentials credentials, Consumer<String> changed, Duration interval) {
        if (interval.isNegative() || interval.isZero()) {
            throw new IllegalArgumentException("onion.credential-reload.interval must be positive");
        }
        this.credentials = credentials;
        this.changed = changed;
        this.interval = interval;
    }

    public synchronized void start() {
        if (scheduler != null || credentials.names().isEmpty()) {
            return;
        }
        scheduler = Executors.newSingleThreadScheduledExecutor(task -> {
            Thread thread = new Thread(task, "onion-credential-reload");
            thread.setDaemon(true);
            return thread;
        });
        scheduler.scheduleWithFixedDelay(
                this::pollOnce, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** One round: reload changed files, then refresh the relays that use them. */
    void pollOnce() {
        try {
            for (String name : credentials.poll()) {
                changed.accept(name);
            }
        } catch (RuntimeException e) {
            // A scheduled task that throws is never run again; one bad round must not end reloading.
            LOG.error("credential reload round failed", e);
        }
    }

    public synchronized void stop() {
        if (scheduler != null) {
            scheduler.shutdownNow();
            scheduler = null;
        }
    }

    public synchronized boolean isRunning() {
        return scheduler != null;
    }
}
