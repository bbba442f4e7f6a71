package dev.onionrelay.api;

import dev.onionrelay.credential.CredentialInfo;
import java.time.Instant;
import java.util.List;

/** A credential as the API shows it: what identifies the certificate, never key material. */
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
        boolean hasPrivateKey,
        List<String> usedBy) {

    static CredentialView of(CredentialInfo info, List<String> usedBy) {
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
                info.hasPrivateKey(),
                usedBy);
    }
}
