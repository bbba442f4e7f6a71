package dev.onionrelay.layer.allow;

import io.netty.util.NetUtil;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Locale;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The entries of an {@code allow} list: what each may look like (checked when the relay is created, so that a typo
 * is a 400 and not a peer refused at run time) and when a peer's value matches one.
 */
final class NamePatterns {

    private static final Pattern HEX_SHA256 = Pattern.compile("[0-9a-fA-F]{64}");
    private static final Pattern DNS_LABEL = Pattern.compile("[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?");

    private NamePatterns() {}

    /** Why a common name or OU entry can never match as meant, or null. A {@code *} would be read literally. */
    static @Nullable String subjectProblem(@Nullable String entry) {
        if (entry == null || entry.isBlank()) {
            return "must not be empty";
        }
        if (entry.contains("*")) {
            return "'*' is not a pattern here: common names and units match exactly";
        }
        return null;
    }

    /** Why a DNS entry is malformed: a host name, or {@code *.} followed by one (at least two labels). */
    static @Nullable String dnsProblem(@Nullable String entry) {
        if (entry == null || entry.isBlank()) {
            return "must not be empty";
        }
        String name = entry.startsWith("*.") ? entry.substring(2) : entry;
        if (name.contains("*")) {
            return "'*' may only be the whole leftmost label ('*.example.com')";
        }
        if (entry.startsWith("*.") && !name.contains(".")) {
            return "'*' must be followed by at least two labels ('*.example.com')";
        }
        for (String label : name.split("\\.", -1)) {
            if (!DNS_LABEL.matcher(label).matches()) {
                return "'" + entry + "' is not a DNS name";
            }
        }
        return null;
    }

    /** Whether {@code name} matches DNS entry {@code entry}: exactly, or {@code *} standing for one label. */
    static boolean dnsMatches(String entry, String name) {
        String pattern = entry.toLowerCase(Locale.ROOT);
        String value = name.toLowerCase(Locale.ROOT);
        if (!pattern.startsWith("*.")) {
            return pattern.equals(value);
        }
        int dot = value.indexOf('.');
        return dot > 0 && value.substring(dot).equals(pattern.substring(1));
    }

    /** Why a URI entry is malformed: an absolute URI, optionally ending in {@code /*}. */
    static @Nullable String uriProblem(@Nullable String entry) {
        if (entry == null || entry.isBlank()) {
            return "must not be empty";
        }
        String fixed = entry.endsWith("/*") ? entry.substring(0, entry.length() - 1) : entry;
        if (fixed.contains("*")) {
            return "'*' may only be the last path segment ('spiffe://example.org/ns/web/*')";
        }
        try {
            URI uri = new URI(fixed);
            if (uri.getScheme() == null) {
                return "'" + entry + "' is not an absolute URI (such as spiffe://example.org/ns/web/sa/frontend)";
            }
        } catch (URISyntaxException e) {
            return "'" + entry + "' is not a URI: " + e.getReason();
        }
        return null;
    }

    /** Whether {@code uri} matches URI entry {@code entry}: exactly, or anything under the path before {@code /*}. */
    static boolean uriMatches(String entry, String uri) {
        if (entry.endsWith("/*")) {
            String prefix = entry.substring(0, entry.length() - 1);
            return uri.startsWith(prefix) && uri.length() > prefix.length();
        }
        return entry.equals(uri);
    }

    /** Why an IP entry is malformed: an IPv4 or IPv6 address, optionally with a {@code /prefix}. */
    static @Nullable String ipProblem(@Nullable String entry) {
        if (entry == null || entry.isBlank()) {
            return "must not be empty";
        }
        return cidr(entry) == null ? "'" + entry + "' is not an IP address or CIDR range such as 10.0.0.0/8" : null;
    }

    /** Whether IP SAN {@code address} (as the JDK writes it) lies in IP entry {@code entry}. */
    static boolean ipMatches(String entry, String address) {
        Cidr range = cidr(entry);
        byte[] bytes = NetUtil.createByteArrayFromIpAddressString(address);
        return range != null && bytes != null && range.contains(bytes);
    }

    /** Why a pin is malformed: 64 hex digits. */
    static @Nullable String sha256Problem(@Nullable String entry) {
        return entry != null && HEX_SHA256.matcher(entry).matches()
                ? null
                : "must be 64 hex digits (the SHA-256 of the peer's DER leaf certificate)";
    }

    static boolean sha256Matches(String entry, String sha256) {
        return Arrays.equals(
                HexFormat.of().parseHex(entry.toLowerCase(Locale.ROOT)),
                HexFormat.of().parseHex(sha256));
    }

    private record Cidr(byte[] network, int prefix) {
        boolean contains(byte[] address) {
            if (address.length != network.length) {
                return false;
            }
            int full = prefix / 8;
            for (int i = 0; i < full; i++) {
                if (address[i] != network[i]) {
                    return false;
                }
            }
            int rest = prefix % 8;
            if (rest == 0) {
                return true;
            }
            int mask = 0xff << (8 - rest) & 0xff;
            return (address[full] & mask) == (network[full] & mask);
        }
    }

    private static @Nullable Cidr cidr(String entry) {
        int slash = entry.indexOf('/');
        String host = slash < 0 ? entry : entry.substring(0, slash);
        byte[] network = NetUtil.createByteArrayFromIpAddressString(host);
        if (network == null || host.contains("%")) {
            return null;
        }
        int bits = network.length * 8;
        int prefix = bits;
        if (slash >= 0) {
            String digits = entry.substring(slash + 1);
            if (!digits.matches("[0-9]{1,3}")) {
                return null;
            }
            prefix = Integer.parseInt(digits);
            if (prefix > bits) {
                return null;
            }
        }
        return new Cidr(network, prefix);
    }
}
