package dev.onionrelay.layer;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * What a layer's TLS settings may be: settings that could never give a working (or a safe) handshake are refused
 * when the layer is configured, naming the setting and why, instead of failing every connection later.
 *
 * <ul>
 *   <li>protocols: TLS 1.3 and TLS 1.2 only; SSLv3, TLS 1.0 and 1.1 are obsolete;
 *   <li>ciphers: AEAD suites only (the ones of {@link TlsContexts#AEAD_CIPHERS}), no CBC, NULL, anonymous or export
 *       suites, and at least one usable with an enabled protocol;
 *   <li>ALPN: 1 to 255 bytes of printable ASCII per protocol name, each named once;
 *   <li>server names and hosts: a DNS name or an IP address, no spaces or control characters;
 *   <li>handshake timeout: from {@link #MIN_TIMEOUT} to {@link #MAX_HANDSHAKE_TIMEOUT}.
 * </ul>
 */
public final class TlsSettings {

    /** Protocol versions a layer may enable. */
    public static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

    /** The longest handshake a layer may wait for; longer would hold a dead connection for no reason. */
    public static final Duration MAX_HANDSHAKE_TIMEOUT = Duration.ofMinutes(10);

    /** The shortest timeout: one scheduler tick, so that a timeout is never zero. */
    public static final Duration MIN_TIMEOUT = Duration.ofMillis(1);

    private static final Set<String> OBSOLETE = Set.of("SSLv2", "SSLv2Hello", "SSLv3", "TLSv1", "TLSv1.1");
    private static final int MAX_HOST_LENGTH = 253;
    private static final int MAX_LABEL_LENGTH = 64;

    private TlsSettings() {}

    /** Checks an explicitly given protocol list (null: the defaults). */
    static void protocols(List<SpecProblem> problems, @Nullable List<String> protocols) {
        if (protocols == null) {
            return;
        }
        if (protocols.isEmpty()) {
            problems.add(new SpecProblem("protocols", "must name at least one of " + PROTOCOLS));
            return;
        }
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < protocols.size(); i++) {
            String protocol = protocols.get(i);
            String field = "protocols[" + i + "]";
            if (protocol == null) {
                problems.add(new SpecProblem(field, "must not be null"));
            } else if (OBSOLETE.contains(protocol)) {
                problems.add(new SpecProblem(field, quoted(protocol) + " is obsolete; use " + PROTOCOLS));
            } else if (!PROTOCOLS.contains(protocol)) {
                problems.add(new SpecProblem(field, quoted(protocol) + " is not one of " + PROTOCOLS));
            } else if (!seen.add(protocol)) {
                problems.add(new SpecProblem(field, quoted(protocol) + " is listed twice"));
            }
        }
    }

    /** Checks an explicitly given cipher suite list (null: the AEAD defaults) against the protocols in effect. */
    static void ciphers(List<SpecProblem> problems, @Nullable List<String> ciphers, List<String> protocols) {
        if (ciphers == null) {
            return;
        }
        if (ciphers.isEmpty()) {
            problems.add(
                    new SpecProblem("ciphers", "must name at least one suite (leave it out for the AEAD defaults)"));
            return;
        }
        int before = problems.size();
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < ciphers.size(); i++) {
            String cipher = ciphers.get(i);
            String field = "ciphers[" + i + "]";
            if (cipher == null) {
                problems.add(new SpecProblem(field, "must not be null"));
            } else if (!TlsContexts.AEAD_CIPHERS.contains(cipher)) {
                problems.add(new SpecProblem(
                        field,
                        quoted(cipher) + " is not an AEAD suite this service offers (no CBC, NULL, anonymous or"
                                + " export suites); use some of " + TlsContexts.AEAD_CIPHERS));
            } else if (!seen.add(cipher)) {
                problems.add(new SpecProblem(field, quoted(cipher) + " is listed twice"));
            }
        }
        if (problems.size() == before && ciphers.stream().noneMatch(cipher -> usableWith(cipher, protocols))) {
            problems.add(new SpecProblem("ciphers", "none of these suites works with protocols " + protocols));
        }
    }

    /** TLS 1.3 suites are named {@code TLS_AES_*} or {@code TLS_CHACHA20_*}; TLS 1.2 suites {@code *_WITH_*}. */
    private static boolean usableWith(String cipher, List<String> protocols) {
        boolean tls13Suite = !cipher.contains("_WITH_");
        return tls13Suite ? protocols.contains("TLSv1.3") : protocols.contains("TLSv1.2");
    }

    static void alpn(List<SpecProblem> problems, List<String> alpn) {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < alpn.size(); i++) {
            String protocol = alpn.get(i);
            String field = "alpn[" + i + "]";
            if (protocol == null) {
                problems.add(new SpecProblem(field, "must not be null"));
            } else if (protocol.isEmpty() || protocol.getBytes(StandardCharsets.UTF_8).length > 255) {
                problems.add(new SpecProblem(field, "an ALPN protocol name has 1 to 255 bytes"));
            } else if (!protocol.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
                problems.add(new SpecProblem(field, "an ALPN protocol name is printable ASCII without spaces"));
            } else if (!seen.add(protocol)) {
                problems.add(new SpecProblem(field, quoted(protocol) + " is listed twice"));
            }
        }
    }

    /** Checks a host name or address as given: where a relay listens, its target, a layer's server name. */
    public static void host(List<SpecProblem> problems, String field, @Nullable String host) {
        if (host == null) {
            return;
        }
        if (host.isBlank()) {
            problems.add(new SpecProblem(field, "must not be empty"));
        } else if (host.length() > MAX_HOST_LENGTH) {
            problems.add(new SpecProblem(field, "is longer than " + MAX_HOST_LENGTH + " characters"));
        } else if (!host.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
            problems.add(new SpecProblem(field, "must not contain spaces, control or non-ASCII characters"));
        } else if (!host.chars().allMatch(c -> Character.isLetterOrDigit(c) || ".-_:%".indexOf(c) >= 0)) {
            problems.add(new SpecProblem(field, "is not a host name or an IP address"));
        } else if (host.startsWith(".") || host.startsWith("-") || host.contains("..")) {
            problems.add(new SpecProblem(field, "is not a host name or an IP address"));
        }
    }

    /** Checks a layer's name: a label in status and metrics, so short and printable. */
    static void name(List<SpecProblem> problems, @Nullable String name) {
        if (name == null) {
            return;
        }
        if (name.length() > MAX_LABEL_LENGTH) {
            problems.add(new SpecProblem("name", "is longer than " + MAX_LABEL_LENGTH + " characters"));
        } else if (!name.chars().allMatch(c -> c >= 0x20 && c != 0x7f)) {
            problems.add(new SpecProblem("name", "must not contain control characters"));
        }
    }

    /** Checks a timeout against its range, naming the cap so that the user knows what is allowed. */
    public static void timeout(List<SpecProblem> problems, String field, Duration timeout, Duration max) {
        if (timeout.compareTo(MIN_TIMEOUT) < 0) {
            problems.add(new SpecProblem(field, "must be at least " + MIN_TIMEOUT));
        } else if (timeout.compareTo(max) > 0) {
            problems.add(new SpecProblem(field, "must be at most " + max));
        }
    }

    /** A value from the request, shown shortened and without control characters. */
    static String quoted(String value) {
        StringBuilder safe = new StringBuilder("'");
        for (int i = 0; i < value.length() && i < 64; i++) {
            char c = value.charAt(i);
            safe.append(c < 0x20 || c == 0x7f ? '?' : c);
        }
        return safe.append(value.length() > 64 ? "…'" : "'").toString();
    }
}
