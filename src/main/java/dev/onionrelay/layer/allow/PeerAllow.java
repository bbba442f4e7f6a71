package dev.onionrelay.layer.allow;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A layer's {@code allow}: which peer identities it accepts once the peer's chain is verified. The lists are
 * alternatives (a peer passes when its leaf certificate matches one entry of any list); {@code expression}, a CEL
 * expression over {@code peer} and {@code now}, must hold as well when given, and alone it decides. Lists left out are
 * empty. {@link PeerPolicy#compile} checks and compiles it.
 *
 * @param commonNames subject common names, exact
 * @param organizationalUnits subject organizational units, exact
 * @param dnsNames DNS SANs, exact or with {@code *} as the whole leftmost label (one label)
 * @param uris URI SANs (SPIFFE IDs), exact or ending in {@code /*} (the rest of the path)
 * @param ipAddresses IP SANs: addresses or CIDR ranges
 * @param sha256 SHA-256 of the peer's leaf certificate (DER), 64 hex digits
 * @param expression CEL expression that must evaluate to true, or null
 */
public record PeerAllow(
        @Nullable List<String> commonNames,
        @Nullable List<String> organizationalUnits,
        @Nullable List<String> dnsNames,
        @Nullable List<String> uris,
        @Nullable List<String> ipAddresses,
        @Nullable List<String> sha256,
        @Nullable String expression) {

    public PeerAllow {
        commonNames = copy(commonNames);
        organizationalUnits = copy(organizationalUnits);
        dnsNames = copy(dnsNames);
        uris = copy(uris);
        ipAddresses = copy(ipAddresses);
        sha256 = copy(sha256);
    }

    private static List<String> copy(@Nullable List<String> values) {
        // Nulls inside a list are refused by the request checks; copyOf would throw on them.
        return values == null ? List.of() : java.util.Collections.unmodifiableList(new java.util.ArrayList<>(values));
    }

    /** Whether any list has an entry. */
    public boolean hasLists() {
        return !commonNames.isEmpty()
                || !organizationalUnits.isEmpty()
                || !dnsNames.isEmpty()
                || !uris.isEmpty()
                || !ipAddresses.isEmpty()
                || !sha256.isEmpty();
    }

    /** Whether this names nothing at all (an empty {@code allow} object, refused as a mistake). */
    public boolean namesNothing() {
        return !hasLists() && expression == null;
    }
}
