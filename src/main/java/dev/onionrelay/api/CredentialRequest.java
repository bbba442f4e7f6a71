package dev.onionrelay.api;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Body of {@code POST /credentials}: a name and exactly one of a PEM certificate (with or without its key) or a
 * {@code generate} block for the development CA.
 */
public record CredentialRequest(
        @Nullable String name,
        @Nullable String certificate,
        @Nullable String privateKey,
        @Nullable Generate generate) {

    /** Ask the development CA for a CA ({@code ca: true}) or for a leaf signed by {@code issuer}. */
    public record Generate(
            @Nullable Boolean ca,
            @Nullable String commonName,
            @Nullable String issuer,
            @Nullable List<String> dnsNames,
            @Nullable List<String> ipAddresses,
            @Nullable String validity,
            @Nullable List<String> uris) {}

    /** Never shows the key, so that a logged request cannot leak it. */
    @Override
    public String toString() {
        return "CredentialRequest[name=" + name + ", certificate=" + (certificate != null ? "<pem>" : "none")
                + ", privateKey=" + (privateKey != null ? "<redacted>" : "none") + ", generate=" + generate + "]";
    }
}
