package dev.onionrelay.layer.allow;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;

/**
 * What a layer knows of its peer from the peer's leaf certificate: the fields {@code allow} matches and its CEL
 * {@code peer} variable shows.
 *
 * @param subject subject DN (RFC 2253)
 * @param commonNames subject CN values
 * @param organizationalUnits subject OU values
 * @param dnsNames DNS SANs
 * @param uris URI SANs
 * @param ipAddresses IP SANs as the certificate parser writes them
 * @param sha256 SHA-256 of the DER certificate, lower-case hex
 * @param serial serial number, hex
 * @param issuer issuer DN
 */
public record PeerIdentity(
        String subject,
        List<String> commonNames,
        List<String> organizationalUnits,
        List<String> dnsNames,
        List<String> uris,
        List<String> ipAddresses,
        String sha256,
        String serial,
        String issuer,
        Instant notBefore,
        Instant notAfter) {

    private static final int SAN_DNS = 2;
    private static final int SAN_URI = 6;
    private static final int SAN_IP = 7;

    /** The identity {@code leaf} carries. */
    public static PeerIdentity of(X509Certificate leaf) {
        String subject = leaf.getSubjectX500Principal().getName();
        List<String> commonNames = new ArrayList<>();
        List<String> units = new ArrayList<>();
        try {
            for (Rdn rdn : new LdapName(subject).getRdns()) {
                String type = rdn.getType().toUpperCase(Locale.ROOT);
                if (type.equals("CN")) {
                    commonNames.add(String.valueOf(rdn.getValue()));
                } else if (type.equals("OU")) {
                    units.add(String.valueOf(rdn.getValue()));
                }
            }
        } catch (InvalidNameException e) {
            // The JDK wrote this name itself in RFC 2253 form; one it cannot read back names nothing we match.
        }
        List<String> dns = new ArrayList<>();
        List<String> uris = new ArrayList<>();
        List<String> ips = new ArrayList<>();
        try {
            Collection<List<?>> names = leaf.getSubjectAlternativeNames();
            if (names != null) {
                for (List<?> name : names) {
                    int kind = (Integer) name.get(0);
                    String value = String.valueOf(name.get(1));
                    switch (kind) {
                        case SAN_DNS -> dns.add(value);
                        case SAN_URI -> uris.add(value);
                        case SAN_IP -> ips.add(value);
                        default -> {}
                    }
                }
            }
        } catch (CertificateParsingException e) {
            // Unreadable SANs: the peer has none we could match.
        }
        return new PeerIdentity(
                subject,
                List.copyOf(commonNames),
                List.copyOf(units),
                List.copyOf(dns),
                List.copyOf(uris),
                List.copyOf(ips),
                sha256(leaf),
                leaf.getSerialNumber().toString(16),
                leaf.getIssuerX500Principal().getName(),
                leaf.getNotBefore().toInstant(),
                leaf.getNotAfter().toInstant());
    }

    static String sha256(X509Certificate leaf) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(leaf.getEncoded()));
        } catch (NoSuchAlgorithmException | CertificateEncodingException e) {
            throw new IllegalStateException("cannot hash a certificate the handshake has just parsed", e);
        }
    }

    /** Subject and SANs for a log line. */
    public String describe() {
        return "subject=\"" + subject + "\" dnsNames=" + dnsNames + " uris=" + uris + " ipAddresses=" + ipAddresses;
    }
}
