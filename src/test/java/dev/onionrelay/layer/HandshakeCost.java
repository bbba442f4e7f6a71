package dev.onionrelay.layer;

import dev.onionrelay.layer.EngineLoopback.Engine;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.util.Arrays;
import java.util.Date;
import java.util.List;
import java.util.Locale;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * What one TLS handshake costs in CPU, client and server side together, per engine, key type and protocol: the two
 * engines of an {@link EngineLoopback} run on the calling thread, so its CPU time is the handshake's. Also the
 * signature and verification cost of each key type in the JDK provider. A tool, not a test (it asserts nothing and
 * is not run by the build); it prints a table:
 *
 * <pre>
 * ./mvnw -q test-compile dependency:build-classpath -Dmdep.outputFile=/tmp/cp.txt -Dmdep.includeScope=test
 * java -cp target/test-classes:target/classes:$(cat /tmp/cp.txt) dev.onionrelay.layer.HandshakeCost \
 *     [engines=JDK,CONSCRYPT,NETTY_OPENSSL] [keys=EC,ED25519,RSA] [protocols=TLSv1.3,TLSv1.2]
 * </pre>
 *
 * Run it once more with {@code -Djdk.tls.namedGroups=x25519} to see the JDK client without its second key share.
 */
public final class HandshakeCost {

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    private static final int BATCH = 50;
    private static final int BATCHES = 7;

    enum KeyType {
        EC("EC", "SHA256withECDSA"),
        ED25519("Ed25519", "Ed25519"),
        RSA("RSA", "SHA256withRSA");

        final String algorithm;
        final String signature;

        KeyType(String algorithm, String signature) {
            this.algorithm = algorithm;
            this.signature = signature;
        }

        KeyPair generate() throws Exception {
            KeyPairGenerator generator = KeyPairGenerator.getInstance(algorithm);
            if (this == EC) {
                generator.initialize(new ECGenParameterSpec("secp256r1"));
            } else if (this == RSA) {
                generator.initialize(2048);
            }
            return generator.generateKeyPair();
        }
    }

    /** A CA and a leaf for localhost, both of {@code type}, as the service's credentials are (CA-issued leaves). */
    record Pki(KeyPair leafKey, X509Certificate leaf, X509Certificate ca) {
        static Pki of(KeyType type) throws Exception {
            KeyPair caKey = type.generate();
            KeyPair leafKey = type.generate();
            X500Name caName = new X500Name("CN=bench CA");
            Date from = new Date(System.currentTimeMillis() - 60_000);
            Date to = new Date(System.currentTimeMillis() + 86_400_000L);
            var caBuilder = new JcaX509v3CertificateBuilder(caName, BigInteger.ONE, from, to, caName, caKey.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
            var leafBuilder = new JcaX509v3CertificateBuilder(
                            caName, BigInteger.TWO, from, to, new X500Name("CN=localhost"), leafKey.getPublic())
                    .addExtension(
                            Extension.subjectAlternativeName,
                            false,
                            new GeneralNames(new GeneralName(GeneralName.dNSName, "localhost")));
            var signer = new JcaContentSignerBuilder(type.signature).build(caKey.getPrivate());
            var converter = new JcaX509CertificateConverter();
            return new Pki(
                    leafKey,
                    converter.getCertificate(leafBuilder.build(signer)),
                    converter.getCertificate(caBuilder.build(signer)));
        }
    }

    public static void main(String[] args) throws Exception {
        List<Engine> engines = argument(args, "engines", "JDK,CONSCRYPT,NETTY_OPENSSL").stream()
                .map(Engine::valueOf)
                .toList();
        List<KeyType> keys = argument(args, "keys", "EC,ED25519,RSA").stream()
                .map(KeyType::valueOf)
                .toList();
        List<String> protocols = argument(args, "protocols", "TLSv1.3");
        System.out.printf(
                "java %s, jdk.tls.namedGroups=%s%n",
                System.getProperty("java.version"), System.getProperty("jdk.tls.namedGroups", "(default)"));

        for (KeyType key : keys) {
            System.out.printf("sign+verify %s (JDK provider): %.3f ms%n", key, signAndVerify(key));
        }
        for (KeyType key : keys) {
            Pki pki = Pki.of(key);
            for (String protocol : protocols) {
                for (Engine engine : engines) {
                    for (boolean resumed : new boolean[] {false, true}) {
                        String label = String.format(
                                Locale.ROOT,
                                "%-13s %-7s %-7s %-8s",
                                engine,
                                key,
                                protocol,
                                resumed ? "resumed" : "full");
                        try {
                            System.out.printf(
                                    "handshake %s: %.3f ms CPU (client + server)%n",
                                    label, handshakes(engine, pki, protocol, resumed));
                        } catch (Exception | Error e) {
                            System.out.printf("handshake %s: fails: %s%n", label, e);
                        }
                    }
                }
            }
        }
    }

    private static List<String> argument(String[] args, String name, String otherwise) {
        return Arrays.stream(args)
                .filter(a -> a.startsWith(name + "="))
                .map(a -> a.substring(name.length() + 1))
                .findFirst()
                .map(v -> List.of(v.split(",")))
                .orElse(List.of(otherwise.split(",")));
    }

    /** Best of {@link #BATCHES} batches: CPU ms per sign plus verify of a 32-byte transcript hash. */
    static double signAndVerify(KeyType type) throws Exception {
        KeyPair pair = type.generate();
        byte[] message = new byte[32];
        double best = Double.MAX_VALUE;
        for (int batch = 0; batch < BATCHES + 3; batch++) {
            long start = THREADS.getCurrentThreadCpuTime();
            for (int i = 0; i < BATCH * 4; i++) {
                Signature signer = Signature.getInstance(type.signature);
                signer.initSign(pair.getPrivate());
                signer.update(message);
                byte[] signature = signer.sign();
                Signature verifier = Signature.getInstance(type.signature);
                verifier.initVerify(pair.getPublic());
                verifier.update(message);
                if (!verifier.verify(signature)) {
                    throw new IllegalStateException("signature does not verify");
                }
            }
            if (batch >= 3) {
                best = Math.min(best, (THREADS.getCurrentThreadCpuTime() - start) / 1e6 / (BATCH * 4));
            }
        }
        return best;
    }

    /** Best of {@link #BATCHES} batches after a warm-up: CPU ms per handshake, both sides. */
    static double handshakes(Engine engine, Pki pki, String protocol, boolean resumed) throws Exception {
        SslContext server =
                EngineLoopback.serverContext(engine, pki.leafKey().getPrivate(), List.of(pki.leaf()), protocol);
        SslContext client = EngineLoopback.clientContext(engine, List.of(pki.ca()), protocol);
        double best = Double.MAX_VALUE;
        for (int batch = 0; batch < BATCHES + 4; batch++) {
            long start = THREADS.getCurrentThreadCpuTime();
            for (int i = 0; i < BATCH; i++) {
                try (EngineLoopback loop = new EngineLoopback(
                        EngineLoopback.clientEngine(client, resumed), server.newEngine(ByteBufAllocator.DEFAULT))) {
                    loop.handshake();
                }
            }
            if (batch >= 4) {
                best = Math.min(best, (THREADS.getCurrentThreadCpuTime() - start) / 1e6 / BATCH);
            }
        }
        return best;
    }
}
