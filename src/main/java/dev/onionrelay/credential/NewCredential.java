package dev.onionrelay.credential;

import java.time.Period;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.jspecify.annotations.Nullable;

/** A request to create a credential: import PEM, generate a development CA, or issue from one. */
public sealed interface NewCredential {

    String name();

    /**
     * Import a certificate chain (leaf first), with the leaf's private key for an identity or
     * without for a trust credential.
     */
    record FromPem(
            String name, String certificatePem, @Nullable String privateKeyPem) implements NewCredential {

        // Keys can be printed by accident (debug logs, exception messages); the PEM never is.
        @Override
        public String toString() {
            return "FromPem[name=" + name + ", privateKeyPem=" + (privateKeyPem == null ? "none" : "<redacted>") + "]";
        }
    }

    /** Generate a self-signed CA (EC P-256) for development and tests. */
    record GenerateCa(
            String name, String commonName, @Nullable Period validity) implements NewCredential {

        public static final Period DEFAULT_VALIDITY = Period.ofDays(3650);

        public Period validityOrDefault() {
            return validity == null ? DEFAULT_VALIDITY : validity;
        }
    }

    /**
     * Issue a leaf certificate (EC P-256, serverAuth and clientAuth) from a CA credential held in
     * the store.
     *
     * @param issuer name of an identity credential whose leaf is a CA
     */
    record GenerateIssued(
            String name,
            String issuer,
            String commonName,
            List<String> dnsNames,
            List<String> ipAddresses,
            List<String> uris,
            @Nullable Period validity)
            implements NewCredential {

        /** 397 days: the longest validity browsers accept for a TLS server certificate. */
        public static final Period DEFAULT_VALIDITY = Period.ofDays(397);

        public GenerateIssued {
            // An omitted JSON array arrives as null; it means "none". Elements are checked later,
            // where a bad one can be reported against its field.
            dnsNames = dnsNames == null ? List.of() : Collections.unmodifiableList(new ArrayList<>(dnsNames));
            ipAddresses = ipAddresses == null ? List.of() : Collections.unmodifiableList(new ArrayList<>(ipAddresses));
            uris = uris == null ? List.of() : Collections.unmodifiableList(new ArrayList<>(uris));
        }

        /** A leaf without URI SANs. */
        public GenerateIssued(
                String name,
                String issuer,
                String commonName,
                List<String> dnsNames,
                List<String> ipAddresses,
                @Nullable Period validity) {
            this(name, issuer, commonName, dnsNames, ipAddresses, List.of(), validity);
        }

        public Period validityOrDefault() {
            return validity == null ? DEFAULT_VALIDITY : validity;
        }
    }
}
