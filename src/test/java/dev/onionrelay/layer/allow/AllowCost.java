package dev.onionrelay.layer.allow;

import dev.onionrelay.support.TestPki;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.time.Period;
import java.util.List;

/**
 * What {@code allow} adds to one handshake in CPU: reading the peer's identity from its leaf certificate and judging
 * it against a five-entry allow list plus a CEL expression (the case of issue 26's set-up cost line). A tool, not a
 * test (it asserts nothing and is not run by the build); compare its figure with a handshake's ({@code
 * HandshakeCost}, docs/BENCHMARKS.md):
 *
 * <pre>
 * ./mvnw -q test-compile dependency:build-classpath -Dmdep.outputFile=/tmp/cp.txt -Dmdep.includeScope=test
 * java -cp target/test-classes:target/classes:$(cat /tmp/cp.txt) dev.onionrelay.layer.allow.AllowCost
 * </pre>
 */
public final class AllowCost {

    private AllowCost() {}

    public static void main(String[] args) {
        TestPki pki = new TestPki();
        pki.ca("ca");
        X509Certificate leaf = pki.leaf(
                        "peer",
                        "ca",
                        List.of("peer.svc.example"),
                        List.of("10.1.2.3"),
                        List.of("spiffe://test.example/ns/web/sa/peer"),
                        Period.ofDays(30))
                .leaf();
        // Five entries none of which matches before the last, and an expression that walks a list.
        PeerPolicy policy = PeerPolicy.compile(
                new PeerAllow(
                        List.of("frontend"),
                        List.of("edge"),
                        List.of("*.other.example"),
                        List.of("spiffe://test.example/ns/batch/*", "spiffe://test.example/ns/web/*"),
                        null,
                        null,
                        "peer.uris.exists(u, u.startsWith('spiffe://test.example/')) && peer.notAfter - now > duration('72h')"));
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        int rounds = 200_000;
        for (int warm = 0; warm < 3; warm++) {
            long start = threads.getCurrentThreadCpuTime();
            int allowed = 0;
            for (int i = 0; i < rounds; i++) {
                if (policy.refusal(PeerIdentity.of(leaf), Instant.now()) == null) {
                    allowed++;
                }
            }
            long nanos = threads.getCurrentThreadCpuTime() - start;
            System.out.printf(
                    "round %d: %.2f us CPU per judged peer (identity + five-entry list + CEL), %d/%d allowed%n",
                    warm, nanos / 1000.0 / rounds, allowed, rounds);
        }
    }
}
