package dev.onionrelay.api.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.context.properties.bind.BindException;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

/** How configured tokens are read: scope, the three ways to give the secret, and what stops the start. */
class ApiTokensTest {

    @TempDir
    Path dir;

    private static ApiProperties bind(Map<String, String> keys) {
        return new Binder(new MapConfigurationPropertySource(keys)).bindOrCreate("onion.api", ApiProperties.class);
    }

    private static Map<String, String> token(String... keyValues) {
        Map<String, String> keys = new LinkedHashMap<>();
        keys.put("onion.api.tokens[0].name", "ci");
        for (int i = 0; i < keyValues.length; i += 2) {
            keys.put("onion.api.tokens[0]." + keyValues[i], keyValues[i + 1]);
        }
        return keys;
    }

    private static byte[] sha256(String text) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
    }

    private static ApiTokens.Token only(ApiProperties properties) {
        return ApiTokens.fromConfiguration(properties.tokens().get(0));
    }

    @Test
    void aTokenIsReadOnlyUnlessItsScopeSaysAdminInAnyCase() {
        assertThat(only(bind(token("secret", "s3cret"))).scope()).isEqualTo(ApiTokens.Scope.READ);
        assertThat(only(bind(token("secret", "s3cret", "scope", "Admin"))).scope())
                .isEqualTo(ApiTokens.Scope.ADMIN);
    }

    @Test
    void anUnknownScopeStopsTheStartNamingTheKey() {
        assertThatThrownBy(() -> bind(token("secret", "s3cret", "scope", "root")))
                .isInstanceOf(BindException.class)
                .hasMessageContaining("onion.api.tokens[0].scope");
    }

    @Test
    void theSecretAsTextAsItsDigestOrInAFileGivesTheSameDigest() throws Exception {
        Path file = Files.writeString(dir.resolve("token"), "s3cret\n");
        byte[] expected = sha256("s3cret");
        assertThat(only(bind(token("secret", "s3cret"))).sha256()).isEqualTo(expected);
        assertThat(only(bind(token("sha256", HexFormat.of().formatHex(expected).toUpperCase())))
                        .sha256())
                .isEqualTo(expected);
        assertThat(only(bind(token("file", file.toString()))).sha256()).isEqualTo(expected);
    }

    @Test
    void exactlyOneWayToGiveTheSecret() {
        assertThatThrownBy(() -> only(bind(token())))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'ci' needs exactly one of secret, sha256 or file");
        assertThatThrownBy(() -> only(bind(token("secret", "a", "sha256", "00"))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("exactly one");
    }

    @Test
    void aTokenNeedsAName() {
        assertThatThrownBy(() -> only(bind(Map.of("onion.api.tokens[0].secret", "s3cret"))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("name is required");
    }

    @Test
    void noTokenConfiguredGeneratesOneAdminTokenAndKeepsIt() throws Exception {
        ApiTokens first = ApiTokens.load(bind(Map.of()), dir);
        String generated = Files.readString(dir.resolve("admin.token")).trim();
        assertThat(generated).isNotBlank();
        ApiTokens.load(bind(Map.of()), dir);
        assertThat(Files.readString(dir.resolve("admin.token")).trim()).isEqualTo(generated);
        assertThat(first.match(generated))
                .get()
                .extracting(ApiTokens.Token::scope)
                .isEqualTo(ApiTokens.Scope.ADMIN);
        assertThat(first.match(generated + "x")).isEmpty();
    }
}
