package dev.onionrelay.observe;

import dev.onionrelay.credential.file.FileCredentials;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;

/**
 * Metrics of file credential reloading, one series per configured credential (label {@code credential}):
 *
 * <ul>
 *   <li>{@code onion_credential_reload_failing}: 1 while the credential's files cannot be loaded and the previous
 *       material is still in use, else 0; what an alert should watch;
 *   <li>{@code onion_credential_reload_failures_total}: changed file contents that could not be loaded;
 *   <li>{@code onion_credential_reloads_total}: changed files loaded after the start (rotations that took effect).
 * </ul>
 */
public final class FileCredentialMetrics implements MeterBinder {

    private final FileCredentials credentials;

    public FileCredentialMetrics(FileCredentials credentials) {
        this.credentials = credentials;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        for (String name : credentials.names()) {
            Gauge.builder("onion.credential.reload.failing", credentials, c -> c.status(name)
                            .map(status -> status.failing() ? 1.0 : 0.0)
                            .orElse(0.0))
                    .description(
                            "1 while the credential's changed files cannot be loaded (the previous material stays in use)")
                    .tag("credential", name)
                    .register(registry);
            FunctionCounter.builder("onion.credential.reload.failures", credentials, c -> c.status(name)
                            .map(FileCredentials.Status::reloadFailures)
                            .orElse(0L))
                    .description("Changed credential file contents that could not be loaded")
                    .tag("credential", name)
                    .register(registry);
            FunctionCounter.builder("onion.credential.reloads", credentials, c -> c.status(name)
                            .map(FileCredentials.Status::reloads)
                            .orElse(0L))
                    .description("Changed credential files loaded after the start")
                    .tag("credential", name)
                    .register(registry);
        }
    }
}
