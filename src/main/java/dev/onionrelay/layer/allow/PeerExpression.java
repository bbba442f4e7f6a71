package dev.onionrelay.layer.allow;

import dev.cel.bundle.Cel;
import dev.cel.bundle.CelFactory;
import dev.cel.common.CelAbstractSyntaxTree;
import dev.cel.common.CelIssue;
import dev.cel.common.CelOptions;
import dev.cel.common.CelValidationException;
import dev.cel.common.CelValidationResult;
import dev.cel.common.ast.CelExpr;
import dev.cel.common.navigation.CelNavigableExpr;
import dev.cel.common.types.MapType;
import dev.cel.common.types.SimpleType;
import dev.cel.parser.CelStandardMacro;
import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelRuntime;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * A layer's {@code allow.expression}: a CEL expression over {@code peer} (a map of the {@link PeerIdentity} fields;
 * {@code notBefore} and {@code notAfter} are timestamps) and {@code now}, compiled and type-checked once when the
 * relay is created, then evaluated in each handshake that reaches it.
 *
 * <p>Bounded: CEL has no loops beyond its macros over lists ({@code exists}, {@code all}, {@code map}, ...), so the
 * work is known from the expression. {@link #estimatedCost} counts its nodes and multiplies the body of each macro by
 * the length of the list it runs over (a literal's length, else {@link #MAX_LIST}, the most entries a certificate's
 * name lists are taken to have); an expression over {@link #COST_LIMIT} is refused at create. At run time the
 * iterations are capped at {@link #MAX_LIST} in each macro, so a certificate with more names cannot exceed the
 * estimate: the evaluation fails and the peer is refused.
 */
final class PeerExpression {

    /** Entries a macro walks at most; also the cap at run time. */
    static final int MAX_LIST = 64;
    /** The most work an expression may be estimated to do (about a few microseconds on one core). */
    static final long COST_LIMIT = 10_000;
    /** Longest expression accepted, in characters. */
    static final int MAX_LENGTH = 4_096;

    private static final Cel CEL = CelFactory.standardCelBuilder()
            .setOptions(CelOptions.current()
                    .comprehensionMaxIterations(MAX_LIST)
                    .maxParseRecursionDepth(32)
                    .build())
            .setStandardMacros(CelStandardMacro.STANDARD_MACROS)
            .addVar("peer", MapType.create(SimpleType.STRING, SimpleType.DYN))
            .addVar("now", SimpleType.TIMESTAMP)
            .setResultType(SimpleType.BOOL)
            .build();

    private final String source;
    private final CelRuntime.Program program;

    private PeerExpression(String source, CelRuntime.Program program) {
        this.source = source;
        this.program = program;
    }

    /** Thrown for an expression that does not compile or is too costly; the message names the position. */
    static final class Invalid extends Exception {
        Invalid(String message) {
            super(message);
        }
    }

    /** Parses, type-checks and bounds {@code source}. */
    static PeerExpression compile(String source) throws Invalid {
        if (source.isBlank()) {
            throw new Invalid("must not be empty");
        }
        if (source.length() > MAX_LENGTH) {
            throw new Invalid("is longer than " + MAX_LENGTH + " characters");
        }
        CelValidationResult result = CEL.compile(source);
        if (result.hasError()) {
            CelIssue first = result.getErrors().get(0);
            throw new Invalid("does not compile at line "
                    + first.getSourceLocation().getLine()
                    + ", column "
                    + (first.getSourceLocation().getColumn() + 1)
                    + ": "
                    + first.getMessage());
        }
        CelAbstractSyntaxTree ast;
        try {
            ast = result.getAst();
        } catch (CelValidationException e) {
            throw new Invalid("does not compile: " + e.getMessage());
        }
        String unknown = unknownPeerField(ast.getExpr());
        if (unknown != null) {
            throw new Invalid("peer has no field '" + unknown + "'; it has " + PEER_FIELDS);
        }
        long cost = estimatedCost(ast.getExpr());
        if (cost > COST_LIMIT) {
            throw new Invalid("its estimated cost " + cost + " exceeds the limit of " + COST_LIMIT
                    + " (each list macro counts its body " + MAX_LIST + " times; nest fewer)");
        }
        try {
            return new PeerExpression(source, CEL.createProgram(ast));
        } catch (CelEvaluationException e) {
            throw new Invalid("cannot be planned: " + e.getMessage());
        }
    }

    /** The fields of {@code peer}: a map to CEL, so its checker cannot catch a misspelt one; this does. */
    static final java.util.Set<String> PEER_FIELDS = new java.util.TreeSet<>(List.of(
            "subject",
            "commonName",
            "organizationalUnits",
            "dnsNames",
            "uris",
            "ipAddresses",
            "sha256",
            "serial",
            "issuer",
            "notBefore",
            "notAfter"));

    private static @Nullable String unknownPeerField(CelExpr root) {
        return CelNavigableExpr.fromExpr(root)
                .allNodes()
                .map(CelNavigableExpr::expr)
                .filter(e -> e.getKind() == CelExpr.ExprKind.Kind.SELECT
                        && e.select().operand().getKind() == CelExpr.ExprKind.Kind.IDENT
                        && e.select().operand().ident().name().equals("peer")
                        && !PEER_FIELDS.contains(e.select().field()))
                .map(e -> e.select().field())
                .findFirst()
                .orElse(null);
    }

    /** The work {@code expr} may do, in nodes evaluated; see the class comment. */
    static long estimatedCost(CelExpr expr) {
        return switch (expr.getKind()) {
            case COMPREHENSION -> {
                CelExpr.CelComprehension loop = expr.comprehension();
                CelExpr range = loop.iterRange();
                long iterations = range.getKind() == CelExpr.ExprKind.Kind.LIST
                        ? range.list().elements().size()
                        : MAX_LIST;
                yield 1
                        + estimatedCost(range)
                        + estimatedCost(loop.accuInit())
                        + saturatedTimes(
                                iterations, estimatedCost(loop.loopCondition()) + estimatedCost(loop.loopStep()))
                        + estimatedCost(loop.result());
            }
            default -> {
                long cost = expr.getKind() == CelExpr.ExprKind.Kind.CALL
                                && expr.call().function().equals("matches")
                        ? 50 // a regular expression: more than one step
                        : 1;
                for (CelNavigableExpr child :
                        CelNavigableExpr.fromExpr(expr).children().toList()) {
                    cost = Math.addExact(cost, estimatedCost(child.expr()));
                }
                yield cost;
            }
        };
    }

    private static long saturatedTimes(long a, long b) {
        long product = a * b;
        return a != 0 && product / a != b ? Long.MAX_VALUE / 4 : product;
    }

    /** Whether the expression holds for {@code peer} at {@code now}; an evaluation error counts as false. */
    boolean allows(PeerIdentity peer, Instant now) throws CelEvaluationException {
        Object result = program.eval(Map.of("peer", variables(peer), "now", timestamp(now)));
        return Boolean.TRUE.equals(result);
    }

    private static Map<String, Object> variables(PeerIdentity peer) {
        Map<String, Object> fields = new HashMap<>();
        fields.put("subject", peer.subject());
        fields.put(
                "commonName",
                peer.commonNames().isEmpty() ? "" : peer.commonNames().get(0));
        fields.put("organizationalUnits", peer.organizationalUnits());
        fields.put("dnsNames", peer.dnsNames());
        fields.put("uris", peer.uris());
        fields.put("ipAddresses", peer.ipAddresses());
        fields.put("sha256", peer.sha256());
        fields.put("serial", peer.serial());
        fields.put("issuer", peer.issuer());
        fields.put("notBefore", timestamp(peer.notBefore()));
        fields.put("notAfter", timestamp(peer.notAfter()));
        return fields;
    }

    private static Instant timestamp(Instant instant) {
        // CEL for Java takes timestamps as java.time.Instant.
        return instant;
    }

    String source() {
        return source;
    }
}
