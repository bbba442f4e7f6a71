package dev.onionrelay.security;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.OpenSsl;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.Traffic;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

/**
 * A whole life cycle at DEBUG, with keys imported, generated, used and deleted, and bad input that quotes a key:
 * the log holds no private key and no token, and key files are readable by their owner only.
 */
@ExtendWith(OutputCaptureExtension.class)
@Scenario
class SecretHygieneTest {

    @Test
    void logsNeverShowPrivateKeysOrTokens(@TempDir Path dir, CapturedOutput output) throws Exception {
        OpenSsl.PemPair imported = OpenSsl.rsaPkcs1(dir, "localhost");
        OpenSsl.PemPair other = OpenSsl.ecPkcs8(dir, "other");
        String token;
        try (EchoServer echo = new EchoServer();
                RunningService service = new RunningService(
                        dir.resolve("state"),
                        "--logging.level.dev.onionrelay=DEBUG",
                        "--logging.level.org.springframework.web=DEBUG",
                        "--logging.level.io.netty.handler.ssl=DEBUG")) {
            token = service.adminToken();
            ApiClient api = service.api();
            assertThat(api.post(
                                    "/credentials",
                                    Map.of(
                                            "name",
                                            "imported",
                                            "certificate",
                                            imported.certificate(),
                                            "privateKey",
                                            imported.privateKey()))
                            .status())
                    .isEqualTo(201);
            // A mismatched key and a key pasted where a certificate belongs: errors must not echo them.
            assertThat(api.post(
                                    "/credentials",
                                    Map.of(
                                            "name",
                                            "mismatch",
                                            "certificate",
                                            imported.certificate(),
                                            "privateKey",
                                            other.privateKey()))
                            .status())
                    .isEqualTo(400);
            assertThat(api.post("/credentials", Map.of("name", "pasted", "certificate", other.privateKey()))
                            .status())
                    .isEqualTo(400);
            api.post("/credentials", Map.of("name", "ca", "generate", Map.of("ca", true)));
            api.post(
                    "/credentials",
                    Map.of("name", "hop", "generate", Map.of("issuer", "ca", "dnsNames", List.of("localhost"))));
            int exit = api.post(
                            "/relays",
                            Map.of(
                                    "name", "exit",
                                    "target", Map.of("host", "127.0.0.1", "port", echo.port()),
                                    "ingress", List.of(Map.of("credential", "imported"), Map.of("credential", "hop"))))
                    .json()
                    .get("listen")
                    .get("port")
                    .asInt();
            int entry = api.post(
                            "/relays",
                            Map.of(
                                    "name",
                                    "entry",
                                    "target",
                                    Map.of("host", "127.0.0.1", "port", exit),
                                    "egress",
                                    List.of(
                                            Map.of("trust", "imported", "serverName", "localhost", "verify", "chain"),
                                            Map.of("trust", "ca", "serverName", "localhost"))))
                    .json()
                    .get("listen")
                    .get("port")
                    .asInt();
            assertThat(Traffic.echo(entry, 256 * 1024).intact()).isTrue();

            Path credentials = service.stateDir().resolve("credentials");
            assertThat(PosixFilePermissions.toString(
                            Files.getPosixFilePermissions(credentials.resolve("imported.key"))))
                    .isEqualTo("rw-------");
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(credentials)))
                    .isEqualTo("rwx------");
            assertThat(PosixFilePermissions.toString(
                            Files.getPosixFilePermissions(service.stateDir().resolve("admin.token"))))
                    .isEqualTo("rw-------");

            api.delete("/relays/entry");
            api.delete("/relays/exit");
            for (String name : List.of("imported", "hop", "ca")) {
                assertThat(api.delete("/credentials/" + name).status()).isEqualTo(204);
            }
        }
        String log = output.getAll();
        assertThat(log).as("the run logged something").contains("relay exit").contains("admin");
        // Error messages may name a PEM block type; they never carry a block.
        assertThat(log)
                .doesNotContainPattern("-----BEGIN [A-Z ]*PRIVATE KEY-----")
                .doesNotContain(token);
        for (String keyLine : keyBodyLines(imported.privateKey(), other.privateKey())) {
            assertThat(log).as("a line of a private key").doesNotContain(keyLine);
        }
    }

    private static List<String> keyBodyLines(String... pems) {
        List<String> lines = new ArrayList<>();
        for (String pem : pems) {
            for (String line : pem.split("\n")) {
                if (!line.startsWith("-----") && line.length() >= 40) {
                    lines.add(line.trim());
                }
            }
        }
        return lines;
    }
}
