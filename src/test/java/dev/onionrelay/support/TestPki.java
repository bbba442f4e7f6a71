package dev.onionrelay.support;

import dev.onionrelay.credential.Credential;
import dev.onionrelay.credential.DevelopmentCa;
import dev.onionrelay.layer.KeyMaterial;
import dev.onionrelay.layer.LayerConfigurationException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.time.Period;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Credentials for engine tests: CAs and leaves from the development CA, served to layers by name. */
public final class TestPki implements KeyMaterial {

    private final DevelopmentCa ca = new DevelopmentCa();
    private final Map<String, Credential> credentials = new ConcurrentHashMap<>();

    /** A new CA named {@code name}. */
    public Credential ca(String name) {
        Credential credential = ca.generateCa(name, name + " CA", Period.ofDays(30));
        credentials.put(name, credential);
        return credential;
    }

    /**
     * A new CA named {@code name} with subject CN {@code commonName}. Given another CA's subject it is that CA
     * regenerated with a new key (or an impostor): certificate choosers that go by issuer name cannot tell them apart,
     * signature checks can.
     */
    public Credential ca(String name, String commonName) {
        Credential credential = ca.generateCa(name, commonName, Period.ofDays(30));
        credentials.put(name, credential);
        return credential;
    }

    /** A leaf for localhost and 127.0.0.1 issued by {@code issuer}. */
    public Credential leaf(String name, String issuer) {
        return leaf(name, issuer, List.of("localhost"), List.of("127.0.0.1"));
    }

    public Credential leaf(String name, String issuer, List<String> dnsNames, List<String> ipAddresses) {
        Credential credential = ca.issue(name, credentials.get(issuer), name, dnsNames, ipAddresses, Period.ofDays(30));
        credentials.put(name, credential);
        return credential;
    }

    /** A leaf with URI SANs too (SPIFFE IDs), valid for {@code validity} from now. */
    public Credential leaf(
            String name,
            String issuer,
            List<String> dnsNames,
            List<String> ipAddresses,
            List<String> uris,
            Period validity) {
        Credential credential = ca.issue(name, credentials.get(issuer), name, dnsNames, ipAddresses, uris, validity);
        credentials.put(name, credential);
        return credential;
    }

    /**
     * A leaf for localhost and 127.0.0.1 issued by {@code issuer} as if the clock read {@code issuedAt}: from a host
     * whose clock runs ahead, a certificate that is not valid yet.
     */
    public Credential leafIssuedAt(String name, String issuer, Instant issuedAt) {
        Credential credential = new DevelopmentCa(Clock.fixed(issuedAt, ZoneOffset.UTC))
                .issue(
                        name,
                        credentials.get(issuer),
                        name,
                        List.of("localhost"),
                        List.of("127.0.0.1"),
                        Period.ofDays(30));
        credentials.put(name, credential);
        return credential;
    }

    /** {@code credential} under its name, made elsewhere (by {@code openssl}, say). */
    public Credential put(Credential credential) {
        credentials.put(credential.name(), credential);
        return credential;
    }

    public Credential get(String name) {
        return credentials.get(name);
    }

    @Override
    public Identity identity(String credentialName) throws LayerConfigurationException {
        Credential credential = credentials.get(credentialName);
        if (credential == null || credential.privateKey() == null) {
            throw new LayerConfigurationException("credential", "no identity '" + credentialName + "'");
        }
        return new Identity(credential.privateKey(), credential.chain());
    }

    @Override
    public List<X509Certificate> trustAnchors(String credentialName) throws LayerConfigurationException {
        Credential credential = credentials.get(credentialName);
        if (credential == null) {
            throw new LayerConfigurationException("trust", "no credential '" + credentialName + "'");
        }
        return credential.trustAnchors();
    }
}
