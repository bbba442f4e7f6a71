package dev.onionrelay.security;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

/** Bearer tokens from a plain secret, a SHA-256 hash and a file; read and admin scopes; an audit line per change. */
@ExtendWith(OutputCaptureExtension.class)
@Scenario
class ApiTokenTest {

    @Test
    void tokensFromSecretHashAndFileWorkWithTheirScopesAndEveryChangeIsAudited(@TempDir Path dir, CapturedOutput output)
            throws Exception {
        Path tokenFile = dir.resolve("token");
        Files.writeString(tokenFile, "file-admin-token-0123456789\n");
        String hash = HexFormat.of()
                .formatHex(MessageDigest.getInstance("SHA-256")
                        .digest("hashed-reader-token-0123456789".getBytes(StandardCharsets.UTF_8)));
        try (RunningService service = new RunningService(
                dir.resolve("state"),
                "--onion.api.tokens[0].name=ops",
                "--onion.api.tokens[0].scope=admin",
                "--onion.api.tokens[0].secret=plain-admin-token-0123456789",
                "--onion.api.tokens[1].name=dashboards",
                "--onion.api.tokens[1].scope=read",
                "--onion.api.tokens[1].sha256=" + hash,
                "--onion.api.tokens[2].name=ci",
                "--onion.api.tokens[2].scope=admin",
                "--onion.api.tokens[2].file=" + tokenFile)) {
            ApiClient anonymous = new ApiClient(service.apiPort(), null);
            ApiClient wrong = new ApiClient(service.apiPort(), "plain-admin-token-012345678X");
            ApiClient admin = new ApiClient(service.apiPort(), "plain-admin-token-0123456789");
            ApiClient reader = new ApiClient(service.apiPort(), "hashed-reader-token-0123456789");
            ApiClient fromFile = new ApiClient(service.apiPort(), "file-admin-token-0123456789");

            assertThat(anonymous.get("/relays").status()).isEqualTo(401);
            assertThat(wrong.get("/relays").status()).isEqualTo(401);
            assertThat(wrong.get("/relays").contentType()).startsWith("application/problem+json");
            assertThat(reader.get("/relays").status()).isEqualTo(200);
            Map<String, Object> ca = Map.of("name", "ca", "generate", Map.of("ca", true));
            assertThat(reader.post("/credentials", ca).status())
                    .as("read scope cannot create")
                    .isEqualTo(403);
            assertThat(reader.post("/credentials", ca).contentType()).startsWith("application/problem+json");
            assertThat(admin.post("/credentials", ca).status()).isEqualTo(201);
            assertThat(reader.delete("/credentials/ca").status())
                    .as("read scope cannot delete")
                    .isEqualTo(403);
            assertThat(reader.get("/credentials/ca").status()).isEqualTo(200);
            assertThat(fromFile.delete("/credentials/ca").status()).isEqualTo(204);
            assertThat(service.stateDir().resolve("admin.token"))
                    .as("no token is generated when tokens are configured")
                    .doesNotExist();
        }
        assertThat(output.getOut())
                .contains("token=ops method=POST path=/credentials status=201")
                .contains("token=ci method=DELETE path=/credentials/ca status=204")
                .contains("token=dashboards method=POST path=/credentials status=403")
                .doesNotContain("plain-admin-token-0123456789")
                .doesNotContain("hashed-reader-token-0123456789")
                .doesNotContain("file-admin-token-0123456789");
    }
}
