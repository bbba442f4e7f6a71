package dev.onionrelay.support;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The OpenSSL command line as an independent peer: it makes the keys and certificates we import
 * and judges the ones we generate.
 */
public final class OpenSsl {

    /** What a certificate and its key look like when pasted into the API. */
    public record PemPair(String certificate, String privateKey) {}

    public record Result(int exitCode, String output) {}

    private OpenSsl() {}

    /** Runs {@code openssl args...} in {@code directory}; fails the test unless it exits 0. */
    public static String run(Path directory, String... args) {
        Result result = execute(directory, args);
        if (result.exitCode() != 0) {
            throw new AssertionError(
                    "openssl " + String.join(" ", args) + " exited " + result.exitCode() + ":\n" + result.output());
        }
        return result.output();
    }

    public static Result execute(Path directory, String... args) {
        List<String> command = new ArrayList<>();
        command.add("openssl");
        command.addAll(List.of(args));
        try {
            Process process = new ProcessBuilder(command)
                    .directory(directory.toFile())
                    .redirectErrorStream(true)
                    .start();
            process.getOutputStream().close();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("openssl " + String.join(" ", args) + " did not finish");
            }
            return new Result(process.exitValue(), output);
        } catch (IOException e) {
            throw new AssertionError("cannot run openssl", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted running openssl", e);
        }
    }

    /** EC P-256 self-signed certificate with a PKCS#8 ({@code BEGIN PRIVATE KEY}) key. */
    public static PemPair ecPkcs8(Path directory, String commonName) {
        run(
                directory,
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                commonName + ".key",
                "-out",
                commonName + ".crt",
                "-subj",
                "/CN=" + commonName,
                "-days",
                "2");
        return read(directory, commonName);
    }

    /** RSA 2048 self-signed certificate with a PKCS#1 ({@code BEGIN RSA PRIVATE KEY}) key. */
    public static PemPair rsaPkcs1(Path directory, String commonName) {
        run(
                directory,
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                commonName + ".p8",
                "-out",
                commonName + ".crt",
                "-subj",
                "/CN=" + commonName,
                "-days",
                "2");
        run(directory, "rsa", "-in", commonName + ".p8", "-traditional", "-out", commonName + ".key");
        return read(directory, commonName);
    }

    /** EC self-signed certificate with a SEC1 key after an {@code EC PARAMETERS} block. */
    public static PemPair ecSec1WithParameters(Path directory, String commonName) {
        run(directory, "ecparam", "-name", "prime256v1", "-genkey", "-out", commonName + ".key");
        run(
                directory,
                "req",
                "-x509",
                "-key",
                commonName + ".key",
                "-out",
                commonName + ".crt",
                "-subj",
                "/CN=" + commonName,
                "-days",
                "2");
        return read(directory, commonName);
    }

    /** Ed25519 self-signed certificate with a PKCS#8 key. */
    public static PemPair ed25519(Path directory, String commonName) {
        run(
                directory,
                "req",
                "-x509",
                "-newkey",
                "ed25519",
                "-nodes",
                "-keyout",
                commonName + ".key",
                "-out",
                commonName + ".crt",
                "-subj",
                "/CN=" + commonName,
                "-days",
                "2");
        return read(directory, commonName);
    }

    /** RSA CA certificate (CA:true, keyCertSign) with a PKCS#8 key. */
    public static PemPair rsaCa(Path directory, String commonName) {
        run(
                directory,
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                commonName + ".key",
                "-out",
                commonName + ".crt",
                "-subj",
                "/CN=" + commonName,
                "-days",
                "30",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign");
        return read(directory, commonName);
    }

    /**
     * EC P-256 self-signed server certificate for localhost and 127.0.0.1, valid from {@code notBefore} to
     * {@code notAfter} ({@code YYYYMMDDHHMMSSZ}); dates in the past make an expired one, which {@code openssl req}
     * cannot, so {@code openssl ca -selfsign} signs it. Files: {@code <name>.crt}, {@code <name>.key}.
     */
    public static PemPair selfSignedServer(Path directory, String name, String notBefore, String notAfter) {
        Path work = directory.resolve(name + ".ca");
        try {
            Files.createDirectories(work);
            Files.writeString(work.resolve("index.txt"), "");
            Files.writeString(work.resolve("serial"), "01\n");
            Files.writeString(work.resolve("ca.cnf"), """
                    [ca]
                    default_ca = self
                    [self]
                    database = index.txt
                    new_certs_dir = .
                    serial = serial
                    default_md = sha256
                    policy = any
                    x509_extensions = server
                    [any]
                    commonName = supplied
                    [server]
                    basicConstraints = critical,CA:false
                    keyUsage = critical,digitalSignature
                    extendedKeyUsage = serverAuth
                    subjectAltName = DNS:localhost,IP:127.0.0.1
                    """);
        } catch (IOException e) {
            throw new AssertionError("cannot prepare " + work, e);
        }
        Path key = directory.resolve(name + ".key").toAbsolutePath();
        Path certificate = directory.resolve(name + ".crt").toAbsolutePath();
        ecRequest(work, key.toString(), "request.csr", "/CN=localhost");
        run(
                work,
                "ca",
                "-batch",
                "-config",
                "ca.cnf",
                "-selfsign",
                "-keyfile",
                key.toString(),
                "-in",
                "request.csr",
                "-out",
                certificate.toString(),
                "-startdate",
                notBefore,
                "-enddate",
                notAfter,
                "-notext");
        return read(directory, name);
    }

    /**
     * An EC P-256 leaf for TLS servers and clients with subject {@code subject} (as {@code openssl req -subj} takes it,
     * e.g. {@code /OU=web/CN=peer}: the development CA issues common names only) and the subject alternative names
     * {@code sans} ({@code DNS:...}, {@code IP:...}, {@code URI:...}), signed by {@code issuer} with {@code openssl x509
     * -req}, valid for {@code days}. Files: {@code <name>.crt} (the leaf alone), {@code <name>.key}.
     */
    public static PemPair issued(
            Path directory, String name, String subject, PemPair issuer, List<String> sans, int days) {
        writeFile(directory.resolve(name + ".issuer.crt"), issuer.certificate());
        writeFile(directory.resolve(name + ".issuer.key"), issuer.privateKey());
        writeFile(
                directory.resolve(name + ".ext"),
                String.join(
                        "\n",
                        List.of(
                                "basicConstraints = critical,CA:false",
                                "keyUsage = critical,digitalSignature",
                                "extendedKeyUsage = serverAuth,clientAuth",
                                "subjectAltName = " + String.join(",", sans),
                                "")));
        ecRequest(directory, name + ".key", name + ".csr", subject);
        run(
                directory,
                "x509",
                "-req",
                "-in",
                name + ".csr",
                "-CA",
                name + ".issuer.crt",
                "-CAkey",
                name + ".issuer.key",
                "-set_serial",
                "0x" + Long.toHexString(System.nanoTime()),
                "-days",
                String.valueOf(days),
                "-extfile",
                name + ".ext",
                "-out",
                name + ".crt");
        return read(directory, name);
    }

    /** A new EC P-256 key into {@code key} and a certificate request for {@code subject} into {@code request}. */
    private static void ecRequest(Path directory, String key, String request, String subject) {
        run(
                directory,
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                key,
                "-out",
                request,
                "-subj",
                subject);
    }

    public static String readFile(Path file) {
        try {
            return Files.readString(file, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new AssertionError("cannot read " + file, e);
        }
    }

    public static Path writeFile(Path file, String content) {
        try {
            return Files.writeString(file, content, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new AssertionError("cannot write " + file, e);
        }
    }

    private static PemPair read(Path directory, String commonName) {
        return new PemPair(
                readFile(directory.resolve(commonName + ".crt")), readFile(directory.resolve(commonName + ".key")));
    }
}
