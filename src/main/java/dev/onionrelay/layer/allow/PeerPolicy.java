package dev.onionrelay.layer.allow;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import dev.cel.runtime.CelEvaluationException;
import dev.onionrelay.layer.InvalidSpecException;
import dev.onionrelay.layer.SpecProblem;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * A layer's {@code allow}, checked and compiled: decides whether a peer whose chain the layer's trust accepted may
 * connect. Immutable and shared by every handshake of the layer; equal to another policy made from the same
 * {@link PeerAllow}.
 */
public final class PeerPolicy {

    private final PeerAllow allow;
    private final @Nullable PeerExpression expression;

    private PeerPolicy(PeerAllow allow, @Nullable PeerExpression expression) {
        this.allow = allow;
        this.expression = expression;
    }

    /**
     * Checks every entry and compiles the expression.
     *
     * @throws InvalidSpecException naming each entry at fault ({@code allow.uris[1]}, {@code allow.expression})
     */
    public static PeerPolicy compile(PeerAllow allow) {
        List<SpecProblem> problems = new ArrayList<>();
        if (allow.namesNothing()) {
            problems.add(new SpecProblem(
                    "allow", "names no identity: give at least one list entry or an expression, or leave allow out"));
        }
        check(problems, "commonNames", allow.commonNames(), NamePatterns::subjectProblem);
        check(problems, "organizationalUnits", allow.organizationalUnits(), NamePatterns::subjectProblem);
        check(problems, "dnsNames", allow.dnsNames(), NamePatterns::dnsProblem);
        check(problems, "uris", allow.uris(), NamePatterns::uriProblem);
        check(problems, "ipAddresses", allow.ipAddresses(), NamePatterns::ipProblem);
        check(problems, "sha256", allow.sha256(), NamePatterns::sha256Problem);
        PeerExpression expression = null;
        if (allow.expression() != null) {
            try {
                expression = PeerExpression.compile(allow.expression());
            } catch (PeerExpression.Invalid e) {
                problems.add(new SpecProblem("allow.expression", e.getMessage()));
            }
        }
        if (!problems.isEmpty()) {
            throw new InvalidSpecException(problems);
        }
        return new PeerPolicy(allow, expression);
    }

    private static void check(
            List<SpecProblem> problems, String list, List<String> entries, Function<String, String> problem) {
        for (int i = 0; i < entries.size(); i++) {
            String why = problem.apply(entries.get(i));
            if (why != null) {
                problems.add(new SpecProblem("allow." + list + "[" + i + "]", why));
            }
        }
    }

    /** What this was compiled from; also its stored form (a stored relay's layer keeps its {@code allow} as given). */
    @JsonValue
    public PeerAllow allow() {
        return allow;
    }

    /** A stored {@code allow}, compiled again when the relay is read back. */
    @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
    static PeerPolicy fromStored(PeerAllow allow) {
        return compile(allow);
    }

    /** Why {@code peer} may not connect at {@code now}, or null when it may. */
    public @Nullable String refusal(PeerIdentity peer, Instant now) {
        if (allow.hasLists() && !listed(peer)) {
            return "matches no entry of allow";
        }
        if (expression != null) {
            try {
                if (!expression.allows(peer, now)) {
                    return "allow.expression is false";
                }
            } catch (CelEvaluationException e) {
                return "allow.expression failed: " + e.getMessage();
            }
        }
        return null;
    }

    private boolean listed(PeerIdentity peer) {
        return peer.commonNames().stream().anyMatch(allow.commonNames()::contains)
                || peer.organizationalUnits().stream().anyMatch(allow.organizationalUnits()::contains)
                || anyMatch(allow.dnsNames(), peer.dnsNames(), NamePatterns::dnsMatches)
                || anyMatch(allow.uris(), peer.uris(), NamePatterns::uriMatches)
                || anyMatch(allow.ipAddresses(), peer.ipAddresses(), NamePatterns::ipMatches)
                || allow.sha256().stream().anyMatch(pin -> NamePatterns.sha256Matches(pin, peer.sha256()));
    }

    private interface Matcher {
        boolean matches(String entry, String value);
    }

    private static boolean anyMatch(List<String> entries, List<String> values, Matcher matcher) {
        for (String entry : entries) {
            for (String value : values) {
                if (matcher.matches(entry, value)) {
                    return true;
                }
            }
        }
        return false;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof PeerPolicy policy && policy.allow.equals(allow);
    }

    @Override
    public int hashCode() {
        return allow.hashCode();
    }

    @Override
    public String toString() {
        return "PeerPolicy" + allow;
    }
}
