package dev.onionrelay.observe;

import dev.onionrelay.credential.file.FileCredentials;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * The {@code fileCredentials} health component: DOWN while any file credential's changed files cannot be loaded (its
 * previous material is still in use, so tunnels work, but a rotation did not take effect), with the reason per
 * credential. Not part of the liveness or readiness groups: restarting the pod would not fix a broken Secret, and
 * without previous material the service would not start at all.
 */
public final class FileCredentialHealthIndicator implements HealthIndicator {

    private final FileCredentials credentials;

    public FileCredentialHealthIndicator(FileCredentials credentials) {
        this.credentials = credentials;
    }

    @Override
    public Health health() {
        boolean failing = false;
        Map<String, Object> details = new LinkedHashMap<>();
        for (FileCredentials.Status status : credentials.statuses()) {
            Map<String, Object> detail = new LinkedHashMap<>();
            detail.put("certificateFile", status.certificateFile().toString());
            detail.put("loadedAt", status.loadedAt().toString());
            detail.put("sha256", status.sha256());
            detail.put("notAfter", status.notAfter().toString());
            if (status.error() != null) {
                failing = true;
                detail.put("error", status.error().message());
                detail.put("failingSince", status.error().since().toString());
            }
            details.put(status.name(), detail);
        }
        return (failing ? Health.down() : Health.up()).withDetails(details).build();
    }
}
