package dev.onionrelay.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The certificates both contenders use, made with the {@code openssl} CLI: one CA, and one server identity per layer
 * position whose only name is {@code layer<i>.onion-bench.test}. Clients check that name on each layer, so a chain
 * that puts the layers in the wrong order fails its handshakes instead of passing quietly.
 */
final class Pki {

    static final String DOMAIN = "onion-bench.test";

    final Path dir;
    final Path caCertificate;
    final List<Path> certificates = new ArrayList<>();
    final List<Path> keys = new ArrayList<>();

    private Pki(Path dir) {
        this.dir = dir;
        this.caCertificate = dir.resolve("ca.crt");
    }

    static String layerHost(int layer) {
        return "layer" + layer + "." + DOMAIN;
    }

    /** @param keyType {@code ec} (P-256) or {@code rsa} (2048 bits) */
    static Pki generate(Path dir, int layers, String keyType) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        Pki pki = new Pki(dir);
        List<String> newKey = keyType.equals("rsa")
                ? List.of("-newkey", "rsa:2048")
                : List.of("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256");
        List<String> ca = new ArrayList<>(List.of("openssl", "req", "-x509"));
        ca.addAll(newKey);
        ca.addAll(List.of(
                "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "30", "-subj", "/CN=onion-bench CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"));
        run(dir, ca);
        for (int i = 1; i <= layers; i++) {
            String host = layerHost(i);
            Path ext = dir.resolve("layer" + i + ".ext");
            Files.writeString(ext, "subjectAltName=DNS:" + host + "\nbasicConstraints=CA:FALSE\n"
                    + "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n");
            List<String> request = new ArrayList<>(List.of("openssl", "req"));
            request.addAll(newKey);
            request.addAll(List.of("-nodes", "-keyout", "layer" + i + ".key", "-out", "layer" + i + ".csr",
                    "-subj", "/CN=" + host));
            run(dir, request);
            run(dir, List.of("openssl", "x509", "-req", "-in", "layer" + i + ".csr", "-CA", "ca.crt", "-CAkey",
                    "ca.key", "-CAcreateserial", "-days", "30", "-out", "layer" + i + ".crt", "-extfile",
                    ext.toString()));
            pki.certificates.add(dir.resolve("layer" + i + ".crt"));
            pki.keys.add(dir.resolve("layer" + i + ".key"));
        }
        return pki;
    }

    /** Certificate of layer {@code i} (1 = outermost). */
    Path certificate(int layer) {
        return certificates.get(layer - 1);
    }

    Path key(int layer) {
        return keys.get(layer - 1);
    }

    static String read(Path path) throws IOException {
        return Files.readString(path, StandardCharsets.US_ASCII);
    }

    private static void run(Path dir, List<String> command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command)
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("openssl.log").toFile())
                .start();
        if (process.waitFor() != 0) {
            throw new IOException(String.join(" ", command) + " failed; see " + dir.resolve("openssl.log"));
        }
    }
}
