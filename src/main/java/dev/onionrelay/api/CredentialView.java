package dev.onionrelay.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.onionrelay.credential.CredentialInfo;
import dev.onionrelay.credential.file.FileCredentials;
import java.time.Instant;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A credential as the API shows it: what identifies the certificate, never key material.
 *
 * @param version 1 when created, one more with every rotation ({@code PUT /credentials/{name}})
 * @param rotatedAt when it was last rotated in place; null if never
 * @param file for a credential loaded from files ({@code onion.credentials.<name>}): where from and whether the latest
 *     files could be loaded; null for credentials created over the API
 */
public record CredentialView(
        String name,
        String kind,
        String subject,
        String issuer,
        String serial,
        Instant notBefore,
        Instant notAfter,
        String sha256,
        List<String> dnsNames,
        List<String> ipAddresses,
        @JsonInclude(JsonInclude.Include.NON_EMPTY) List<String> uris,
        boolean hasPrivateKey,
        long version,
        @Nullable Instant rotatedAt,
        List<String> usedBy,
        @Nullable FileSource file) {

    /**
     * Where a file credential comes from. {@code reloadError} is set while the files changed but cannot be loaded: the
     * material described above (the previous files') stays in use until they are fixed.
     */
    public record FileSource(
            String certificateFile,
            @Nullable String privateKeyFile,
            Instant loadedAt,
            long reloads,
            long reloadFailures,
            @Nullable String reloadError,
            @Nullable Instant reloadErrorSince) {

        static FileSource of(FileCredentials.Status status) {
            return new FileSource(
                    status.certificateFile().toString(),
                    status.privateKeyFile() != null ? status.privateKeyFile().toString() : null,
                    status.loadedAt(),
                    status.reloads(),
                    status.reloadFailures(),
                    status.error() != null ? status.error().message() : null,
                    status.error() != null ? status.error().since() : null);
        }
    }

    static CredentialView of(CredentialInfo info, List<String> usedBy, @Nullable FileSource file) {
        return new CredentialView(
                info.name(),
                info.kind(),
                info.subject(),
                info.issuer(),
                info.serial(),
                info.notBefore(),
                info.notAfter(),
                info.sha256(),
                info.dnsNames(),
                info.ipAddresses(),
                info.uris(),
                info.hasPrivateKey(),
                info.version(),
                info.rotatedAt(),
                usedBy,
                file);
    }
}
