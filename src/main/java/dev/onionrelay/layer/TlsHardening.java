package dev.onionrelay.layer;

/**
 * JDK-wide TLS settings that have no per-engine switch on Java 17. Applied before any TLS engine is created (the JDK
 * reads them once), unless the operator set them already.
 */
public final class TlsHardening {

    private TlsHardening() {}

    /** No renegotiation: TLS 1.3 has none, and TLS 1.2 clients may not start one. */
    public static void apply() {
        setIfAbsent("jdk.tls.rejectClientInitiatedRenegotiation", "true");
    }

    /**
     * The strict profile's key exchange, P-384 only, for every JDK engine of the process: Java 17 cannot restrict
     * groups per engine ({@code SSLParameters.setNamedGroups} arrived in Java 20). With the OpenSSL provider the
     * strict profile restricts protocol and suites only.
     */
    public static void strictKeyExchange() {
        setIfAbsent("jdk.tls.namedGroups", "secp384r1");
    }

    private static void setIfAbsent(String property, String value) {
        if (System.getProperty(property) == null) {
            System.setProperty(property, value);
        }
    }
}
