package dev.onionrelay.deploy;

import static dev.onionrelay.deploy.Chart.get;
import static dev.onionrelay.deploy.Chart.list;
import static dev.onionrelay.deploy.Chart.map;
import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.credential.Credential;
import dev.onionrelay.credential.PemCodec;
import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.FixedPorts;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.TestPki;
import dev.onionrelay.support.Traffic;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * Chart and application agree: the application.yml the chart renders, run by the real service with the Secrets it
 * mounts laid out where it mounts them, opens the declared relays from file credentials, and they carry traffic.
 */
@Scenario
class ChartConfigurationTest {

    @TempDir
    Path work;

    @Test
    void renderedConfigurationOpensTheDeclaredRelaysAndTheyCarryTraffic() throws Exception {
        TestPki pki = new TestPki();
        Credential ca = pki.ca("onion-ca");
        Credential hop = pki.leaf("hop", "onion-ca");
        try (EchoServer echo = new EchoServer()) {
            int exitPort = freePort();
            int entryPort = freePort();
            Path values = work.resolve("values.yaml");
            Chart.write(values, """
                    credentials:
                      hop:
                        existingSecret: hop-tls
                      onion-ca:
                        existingSecret: onion-ca
                        certificateKey: ca.crt
                        privateKeyKey: ""
                    relays:
                      - name: exit
                        listen: {port: %d}
                        target: {host: 127.0.0.1, port: %d}
                        ingress:
                          - {name: outer, credential: hop}
                          - {name: inner, credential: hop}
                      - name: entry
                        listen: {port: %d}
                        target: {host: 127.0.0.1, port: %d}
                        egress:
                          - {name: outer, trust: onion-ca, serverName: localhost}
                          - {name: inner, trust: onion-ca, serverName: localhost}
                    """.formatted(exitPort, echo.port(), entryPort, exitPort));
            Chart.Rendered chart = Chart.render(values);

            // What the kubelet would put in each Secret volume, under a local directory instead of the mount path.
            Map<String, Map<String, String>> secrets = new LinkedHashMap<>();
            secrets.put(
                    "hop-tls",
                    Map.of(
                            "tls.crt", PemCodec.certificatesToPem(hop.chain()),
                            "tls.key", PemCodec.privateKeyToPem(hop.privateKey())));
            secrets.put("onion-ca", Map.of("ca.crt", PemCodec.certificatesToPem(ca.chain())));
            for (Map<String, Object> secret : chart.all("Secret")) {
                Map<String, String> files = new LinkedHashMap<>();
                map(secret.get("data"))
                        .forEach((key, value) -> files.put(
                                key, new String(Base64.getDecoder().decode((String) value), StandardCharsets.UTF_8)));
                secrets.put((String) get(secret, "metadata.name"), files);
            }
            String configuration = chart.applicationYaml();
            List<Map<String, Object>> mounts = secretMounts(chart);
            assertThat(mounts).hasSize(3); // API tokens and the two credentials
            for (Map<String, Object> mount : mounts) {
                String mountPath = (String) mount.get("mountPath");
                Map<String, String> content = secrets.get((String) mount.get("secretName"));
                assertThat(content)
                        .as("content of Secret %s", mount.get("secretName"))
                        .isNotNull();
                MountedSecret local = new MountedSecret(work.resolve("mounts" + mountPath));
                local.write(content);
                configuration = configuration.replace(mountPath + "/", local.directory() + "/");
            }
            assertThat(configuration).as("every mounted path rewritten").doesNotContain(": /etc/");
            Path rendered = work.resolve("application.yml");
            Chart.write(rendered, configuration);

            String token = secrets.get("edge-onion-relay-api-tokens").get("admin");
            try (RunningService service = new RunningService(
                    Files.createDirectory(work.resolve("state")),
                    "--spring.config.additional-location=file:" + rendered)) {
                ApiClient api = new ApiClient(service.apiPort(), token);
                JsonNode relays = api.get("/relays").json();
                assertThat(relays).hasSize(2);
                for (JsonNode relay : relays) {
                    assertThat(relay.get("state").asString()).as("%s", relay).isEqualTo("LISTENING");
                }
                assertThat(api.get("/relays/exit").json().at("/listen/port").asInt())
                        .isEqualTo(exitPort);
                assertThat(api.get("/relays/exit").json().at("/listen/host").asString())
                        .as("the chart's default listen host")
                        .isEqualTo("0.0.0.0");

                Traffic.Echo through = Traffic.echo(entryPort, 1 << 20);
                assertThat(through.intact()).as("%s", through).isTrue();

                JsonNode credential = api.get("/credentials/hop").json();
                assertThat(credential.at("/file/certificateFile").asString())
                        .isEqualTo(work.resolve("mounts/etc/onion-relay/credentials/hop/tls.crt")
                                .toString());
                assertThat(credential.at("/subject").asString()).isEqualTo("CN=hop");
                assertThat(new ApiClient(service.apiPort(), "wrong")
                                .get("/relays")
                                .status())
                        .isEqualTo(401);
            }
        }
    }

    /** The workload's Secret volume mounts: mount path and Secret name. */
    private static List<Map<String, Object>> secretMounts(Chart.Rendered chart) {
        Map<String, String> secretByVolume = new LinkedHashMap<>();
        for (Object volume : list(chart.podSpec().get("volumes"))) {
            Object secretName = get(volume, "secret.secretName");
            if (secretName != null) {
                secretByVolume.put((String) get(volume, "name"), (String) secretName);
            }
        }
        List<Map<String, Object>> mounts = new ArrayList<>();
        for (Object mount : list(chart.container().get("volumeMounts"))) {
            String secretName = secretByVolume.get((String) get(mount, "name"));
            if (secretName != null) {
                mounts.add(Map.of("mountPath", get(mount, "mountPath"), "secretName", secretName));
            }
        }
        // Longest first, so that no mount path is replaced inside a longer one.
        mounts.sort(Comparator.comparing((Map<String, Object> m) -> ((String) m.get("mountPath")).length())
                .reversed());
        return mounts;
    }

    private static int freePort() throws IOException {
        return FixedPorts.free();
    }
}
